"""The text pipeline both decoders share: texts, lines, sentences, HTML, kept spans and glossary terms
in; piece ids through an engine; each text's Translation out, exactly one per text, in order.

An engine (the torch Translator of translate.py, the ONNX one of lite/translator.py) inherits
TextPipeline and supplies only the decoding of piece ids:

    src_tok, tgt_tok     the tokenizers (text/tokenizer.py)
    max_src_len          the model's limit in source tokens (longer sentences are cut, text/lines.py)
    languages            (source, target) codes, or None
    counts               a text.lines.Counts: what was done to inputs too long for the model
    search(src_ids, cfg, phrases, attention) -> each sequence's n-best Hypotheses for one batch of
                         non-empty id sequences; phrases: per sequence the target ids it must hold
                         (constraints), or None (then greedy for beam 1); attention: record how each
                         hypothesis attended, if the engine can (Hypothesis.attention)
    reverse              whether the encoder reads sources backwards (alignment.py flips what search records)
    attends              whether a model attends (HTML's inline elements are then placed on words)
    placeholders         whether the model learnt placeholders for kept spans (augment.py)
    annotates            whether the model learnt term annotations, which glossaries then use (sources.py)
    attention_weights(src_ids, targets) -> per pair, one row per target piece and EOS over the source
                         pieces in reading order (alignment.py)

Sentences are decoded in batches sorted by length; a line's translation is joined again from its
sentences' (rejoin.py).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path

from nmt import NMTError, alignment, document_pipeline, sources
from nmt.config import FORMATS, DecodeConfig, DocumentLimits
from nmt.document_pipeline import DocumentTranslation
from nmt.rejoin import join_lines, rejoin
from nmt.search.constraints import beam_for
from nmt.search.scoring import Hypothesis
from nmt.text import htmlparse, markup
from nmt.text.glossary import Glossary
from nmt.text.lines import Translation, sentences
from nmt.text.placeholders import fill

CHUNK_LINES = 4096  # lines read, sorted and decoded together; bounds memory on endless pipes
DECODE_OPTIONS = [f.name for f in dataclasses.fields(DecodeConfig)]


def length_batches(lengths: list[int], cfg: DecodeConfig) -> Iterator[list[int]]:
    """Indices of the non-empty sentences (lengths in tokens), sorted by length, grouped by the token and
    sentence budgets of cfg (max_tokens, max_sentences): how both decoders batch."""
    order = sorted((i for i, n in enumerate(lengths) if n > 0), key=lambda i: lengths[i])
    batch: list[int] = []
    for i in order:
        full = len(batch) + 1 > cfg.max_sentences or (len(batch) + 1) * lengths[i] > cfg.max_tokens
        if batch and full:
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch


class TextPipeline:
    """Texts in, Translations out, over an engine's translate_ids (see the module's docstring)."""

    def translate(self, texts: str | Iterable[str], *, attention: bool = False, format: str = "text",
                  glossary: Glossary | list[tuple[str, str]] | None = None,
                  constraints: list[list[str]] | None = None, **options) -> Translation | list[Translation]:
        """Translate a text, or a list of texts: exactly one Translation each, in order.

        options: any DecodeConfig field (beam, n_best, length_penalty, max_sentences, ...); the rest
        keep DecodeConfig's defaults. A text holding several lines is translated line by line and
        joined again, so line breaks survive. attention: also give each Translation its sentences, each
        with its translation and how it attended (a model with attention). format="html": each text is
        HTML, translated with its markup kept (text/markup.py; inline elements are placed by the
        attention of a model that has it, else around their whole sentence). glossary: a Glossary or
        (source term, target term) pairs; each sentence's translation holds the target terms of the
        source terms found in it (text/glossary.py). constraints: for each text, target phrases its
        translation must hold (a text of one line, translated whole). With keep_spans (on by default)
        numbers, URLs and e-mail addresses come out as they went in (text/spans.py).
        """
        cfg = self.decode_config(options)
        if format not in FORMATS:
            raise NMTError(f"format takes {' or '.join(FORMATS)}, got {format!r}")
        one = isinstance(texts, str)
        texts = [texts] if one else list(texts)
        if isinstance(glossary, list):
            glossary = Glossary.of(glossary)
        if constraints is not None:
            constraints = [constraints] if one and constraints and isinstance(constraints[0], str) \
                else constraints
            if len(constraints) != len(texts) or any("\n" in text for text in texts):
                raise NMTError(f"constraints: give one list of phrases per text ({len(texts)} texts, "
                               f"{len(constraints)} lists), each text one line")
        if attention:
            self.require_attention()
        if format == "html":
            out = self._translate_html(texts, cfg, attention=attention, glossary=glossary)
        else:
            out = self._translate_texts(texts, cfg, attention=attention, glossary=glossary,
                                        constraints=constraints)
        return out[0] if one else out

    def translate_document(self, data: bytes, kind: str, *, output_kind: str | None = None,
                           glossary: Glossary | list[tuple[str, str]] | None = None,
                           limits: DocumentLimits | None = None, progress=None,
                           **options) -> DocumentTranslation:
        """A document's bytes translated (bytes in, bytes out): kind is one of text/documents.KINDS (txt,
        html, md, srt, vtt, docx, pptx, odt, odp, epub, pdf); the result has everything but the text kept
        (text/documents/ says what each kind keeps). output_kind: for a PDF, "txt" or "html". limits: what an
        untrusted file may be (config.DocumentLimits). progress: a console.Progress, told of each chunk of
        blocks translated. options: DecodeConfig fields, as for translate (document_pipeline.py)."""
        return document_pipeline.translate_document(self, data, kind, output_kind=output_kind,
                                                    glossary=glossary, limits=limits, progress=progress,
                                                    **options)

    def translate_file(self, src: str | Path, dst: str | Path, *, kind: str | None = None,
                       **options) -> DocumentTranslation:
        """Translate the document at `src` into `dst` (written atomically; nothing is written on an error).
        kind: from src's extension unless given; a PDF's output kind is dst's extension (.txt or .html).
        options: as for translate_document."""
        return document_pipeline.translate_file(self, src, dst, kind=kind, **options)

    @staticmethod
    def decode_config(options: dict) -> DecodeConfig:
        unknown = sorted(set(options) - set(DECODE_OPTIONS))
        if unknown:
            raise NMTError(f"unknown decoding option {', '.join(unknown)}; "
                           f"valid: {', '.join(DECODE_OPTIONS)}")
        return DecodeConfig(**options)

    def _translate_texts(self, texts: list[str], cfg: DecodeConfig, *, attention: bool,
                         glossary: Glossary | None, constraints: list[list[str]] | None) -> list[Translation]:
        pieces = [text.split("\n") for text in texts]  # lines of each text
        flat = [line for lines in pieces for line in lines]
        results = list(self.translate_stream(flat, cfg, glossary=glossary, explicit=constraints,
                                             attention=attention))
        at = iter(results)
        out = [join_lines([next(at) for _ in lines], self.max_src_len) for lines in pieces]
        if attention:
            found = iter(alignment.by_sentence(self, flat, [nbest[0][1] for nbest in results]))
            for translation, lines in zip(out, pieces, strict=True):
                translation.sentences = [self._sentence_record(source, hyp, record)
                                         for _ in lines for source, hyp, record in next(found)]
        return out

    def _sentence_record(self, source: str, hyp: Hypothesis, record: dict) -> dict:
        text = self.tgt_tok.decode([hyp.tokens])[0]
        return {"source": source, "text": fill(text, hyp.spans) if hyp.spans else text, "alignment": record}

    def _translate_html(self, pages: list[str], cfg: DecodeConfig, *, attention: bool,
                        glossary: Glossary | None) -> list[Translation]:
        """Each page's sentences decoded in one stream, aligned where they hold inline markup (by the
        model that attends, if any), and each page rendered again (text/markup.py). Alternative k of a page
        renders the k-th best of each sentence, its inline elements around their whole sentences."""
        docs = [htmlparse.parse(page) for page in pages]
        source = self.languages[0] if self.languages else None
        texts = [doc.texts(split=cfg.split_sentences, language=source) for doc in docs]
        flat = [text for page in texts for text in page]
        whole = dataclasses.replace(cfg, split_sentences=False)  # split already, around the markup
        wanted = [need for doc in docs for need in doc.needs_alignment()]
        # an engine that records attention as it decodes spares the second pass that places inline markup
        found = list(self.translate_stream(flat, whole, glossary=glossary,
                                           attention=self.attends and (attention or any(wanted))))
        rows = [i for i, need in enumerate(wanted) if attention or (need and self.attends)]
        records = alignment.by_sentence(self, [flat[i] for i in rows], [found[i][0][1] for i in rows]) \
            if rows else []
        per_text: list[list[dict]] = [[] for _ in flat]
        for i, parts in zip(rows, records, strict=True):
            per_text[i] = [self._sentence_record(s, h, r) for s, h, r in parts]
        out, at = [], 0
        for doc, page in zip(docs, texts, strict=True):
            mine = range(at, at + len(page))
            at += len(page)
            out.append(self._render_page(doc, [found[i] for i in mine], [per_text[i] for i in mine],
                                         attention))
        return out

    def _render_page(self, doc: markup.Document, found: list, per_text: list[list[dict]],
                     attention: bool) -> Translation:
        k = max((len(nbest) for nbest in found), default=1)
        ranked = []
        for alt in range(k):
            chosen = [nbest[min(alt, len(nbest) - 1)] for nbest in found]
            done = [Translation(text, hyp.score, sentences=records if alt == 0 else [])
                    for (text, hyp), records in zip(chosen, per_text, strict=True)]
            ranked.append(Translation(doc.render(done), sum(t.score for t in done) / max(1, len(done))))
        ranked[0].alternatives = ranked[1:]
        cut = sum(getattr(nbest[0][1], "cut", 0) for nbest in found)
        if cut:
            ranked[0].warnings.append(f"{cut} sentence(s) longer than the model's limit of "
                                      f"{self.max_src_len} tokens were translated in pieces")
        if attention:
            ranked[0].sentences = [s for records in per_text for s in records]
        return ranked[0]

    def translate_stream(self, lines: Iterable[str], cfg: DecodeConfig, *,
                         glossary: Glossary | None = None, explicit: Iterable[list[str]] | None = None,
                         attention: bool = False) -> Iterator[list[tuple[str, Hypothesis]]]:
        """For each input line, in order, its n-best list of (detokenized text, hypothesis). With
        cfg.split_sentences each sentence of a line is decoded on its own and the line joined again;
        inputs too long for the model are cut (and counted in self.counts). Each sentence's translation
        holds the target terms of the `glossary` terms found in it and, with cfg.keep_spans, its numbers,
        URLs and e-mail addresses (text/spans.py). `explicit`: a list of target phrases per line that its
        translation must hold (the lines are then not split). attention: the engine records how each
        hypothesis attended, where it can. Lines are read CHUNK_LINES at a time, so an endless pipe
        streams."""
        lines, first = iter(lines), 1
        language = self.languages[0] if self.languages else None
        wanted = iter(explicit) if explicit is not None else None
        reader = sources.Reader.of(self, cfg, glossary)
        while chunk := list(itertools.islice(lines, CHUNK_LINES)):
            parsed, src_ids = sentences(chunk, self.src_tok, limit=self.max_src_len,
                                        split=cfg.split_sentences and wanted is None, language=language,
                                        first=first, counts=self.counts)
            ids, srcs = iter(src_ids), []
            for k, line in enumerate(parsed):
                line_terms = next(wanted, None) if wanted is not None else []
                if line_terms is None:
                    raise NMTError(f"input line {first + k} has no line of constraints: give one (a JSON "
                                   "list, [] for none) per input line")
                srcs += [reader.source(sentence, next(ids), line_terms, f"input line {first + k}")
                         for sentence in line.texts()]
            first += len(chunk)
            found = iter(reader.translate(srcs, attention))
            for line in parsed:
                yield rejoin(line, [next(found) for _ in line.sentences])

    def translate_ids(self, src_ids: list[list[int]], cfg: DecodeConfig,
                      phrases: list[list[list[int]]] | None = None, attention: bool = False
                      ) -> list[list[Hypothesis]]:
        """Each sequence's n-best list, in order (empty ones: one empty hypothesis). Sequences with
        constraints (`phrases`, target ids, per sequence) decode apart from the rest, grouped by the beam
        their constraints need (search/constraints.beam_for): those without decode exactly as they would
        with no constraints anywhere. Each group goes to the engine's `search` in batches sorted by
        length."""
        results: list[list[Hypothesis]] = [[Hypothesis([], 0.0, 0.0)] for _ in src_ids]
        phrases = phrases or [[] for _ in src_ids]
        beams = [beam_for(p, cfg.beam) if p else 0 for p in phrases]
        for beam in sorted(set(beams)):
            wanted = [len(s) if b == beam else 0 for s, b in zip(src_ids, beams, strict=True)]
            group_cfg = cfg if beam == 0 else dataclasses.replace(cfg, beam=beam)
            for batch in length_batches(wanted, group_cfg):
                found = self.search([src_ids[i] for i in batch], group_cfg,
                                    [phrases[i] for i in batch] if beam else None, attention=attention)
                for i, hyps in zip(batch, found, strict=True):
                    results[i] = hyps
        return results

    def require_attention(self) -> None:
        """Refuse, before any decoding, what needs attention weights from a model that has none."""
        if not self.attends:
            raise NMTError("showing attention weights needs a model with attention (model.attention in its "
                           "config)")

    def alignments(self, lines: list[str], hyps: list[Hypothesis]) -> list[dict]:
        """How each translation attended to its source line, by the first model that attends
        (alignment.py)."""
        return alignment.alignments(self, lines, hyps)
