"""Which language a text is written in, for `POST /detect` and `source: "auto"`.

py3langid (a maintained fork of langid.py: a naive Bayes model over byte n-grams, 97 languages, its model
inside the package, nothing downloaded) chosen over lingua (more accurate on very short texts, but a
far larger install for every server) and fastText's identifier (its model is a separate download).
Its probabilities are calibrated over the text's length; LibreTranslate reports them as percentages:

    >>> detect("Ein Hund läuft über die Wiese.")[0]          # doctest: +SKIP
    ('de', 99.97)
"""

from __future__ import annotations

import functools

from nmt import NMTError


@functools.cache
def _identifier():
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
    except ImportError:
        raise NMTError("language identification needs py3langid: pip install 'nmt[detect]'") from None
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect(text: str, best: int | None = 3) -> list[tuple[str, float]]:
    """The `best` likeliest languages of `text` (None: all) as (ISO 639-1 code, confidence 0-100), best
    first."""
    return [(code, round(100 * p, 2)) for code, p in _identifier().rank(text)[:best]]
