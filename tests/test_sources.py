"""What a model reads for each sentence (sources.py), through the text pipeline both decoders share: an
engine that writes its source back (its "translation" is what it read) shows the placeholders, the
annotations and the constraints it was given, and one that drops placeholders shows the fallbacks."""

import pytest

from nmt import NMTError
from nmt.pipeline import TextPipeline
from nmt.search.scoring import Hypothesis
from nmt.text.lines import Counts
from nmt.text.tokenizer import load_tokenizers, train_tokenizers

GLOSSARY = [("Hunde", "puppies")]
SENTENCE = "Zwei Hunde laufen um 8:15 Uhr."


class Echo(TextPipeline):
    """Writes back what it reads; `drop`: without the pieces that are placeholders; `second`: as its second
    best, after one without them."""

    def __init__(self, tok, *, placeholders=True, annotates=True, drop=False, second=False):
        self.src_tok = self.tgt_tok = tok
        self.max_src_len, self.languages, self.counts = 200, None, Counts()
        self.placeholders, self.annotates, self.drop, self.second = placeholders, annotates, drop, second
        self.n_best = []
        self.reverse, self.attends = False, False
        self.read, self.constraints = [], []

    def search(self, src_ids, cfg, phrases, attention=False):
        out = []
        for k, ids in enumerate(src_ids):
            self.read.append(self.src_tok.decode([ids])[0])
            self.constraints.append([self.tgt_tok.decode([p])[0] for p in phrases[k]] if phrases else [])
            pieces = self.src_tok.pieces(ids)
            dropped = [i for i, p in zip(ids, pieces, strict=True) if not p.startswith("⦅n")]
            self.n_best.append(cfg.n_best)
            if self.second:
                out.append([Hypothesis(dropped, -1.0, -1.0), Hypothesis(ids, -2.0, -2.0)][:cfg.n_best])
            else:
                out.append([Hypothesis(dropped if self.drop else ids, -1.0, -1.0)])
        return out


@pytest.fixture(scope="module")
def tok(toy, tmp_path_factory):
    folder = tmp_path_factory.mktemp("reserving")
    train_tokenizers(toy["train_src"], toy["train_tgt"], folder, vocab_size=1000)
    return load_tokenizers(folder)[0]


def test_a_model_that_learnt_both_reads_placeholders_and_annotations_and_they_come_back(tok):
    engine = Echo(tok)
    out = engine.translate(SENTENCE, glossary=GLOSSARY, glossary_mode="annotate")
    assert engine.read == ["Zwei Hunde ⦅t⦆ puppies ⦅/t⦆ laufen um ⦅n1⦆ Uhr."]
    assert engine.constraints == [[]]  # annotate: no constraint
    assert out.text == "Zwei Hunde ⦅t⦆ puppies ⦅/t⦆ laufen um 8:15 Uhr."  # the span written back


@pytest.mark.parametrize("mode, read, constraints", [
    ("constrain", "Zwei Hunde laufen um ⦅n1⦆ Uhr.", ["puppies"]),
    ("both", "Zwei Hunde ⦅t⦆ puppies ⦅/t⦆ laufen um ⦅n1⦆ Uhr.", ["puppies"]),
    ("auto", "Zwei Hunde ⦅t⦆ puppies ⦅/t⦆ laufen um ⦅n1⦆ Uhr.", ["puppies"]),  # config.GLOSSARY_MODE
])
def test_each_glossary_mode(tok, mode, read, constraints):
    engine = Echo(tok)
    engine.translate(SENTENCE, glossary=GLOSSARY, glossary_mode=mode)
    assert engine.read == [read] and engine.constraints == [constraints]


def test_a_model_without_placeholders_or_annotations_gets_constraints_and_refuses_annotate(tok):
    engine = Echo(tok, placeholders=False, annotates=False)
    engine.translate(SENTENCE, glossary=GLOSSARY)  # auto: constrain
    assert engine.read == [SENTENCE] and engine.constraints == [["puppies", "8:15"]]
    with pytest.raises(NMTError, match="needs a model trained with term annotations"):
        engine.translate(SENTENCE, glossary=GLOSSARY, glossary_mode="both")


def test_a_dropped_placeholder_is_pinned_then_the_spans_are_constraints_and_it_is_counted(tok, caplog):
    engine = Echo(tok, drop=True)
    out = engine.translate(SENTENCE, glossary=GLOSSARY, glossary_mode="annotate")
    assert engine.read == ["Zwei Hunde ⦅t⦆ puppies ⦅/t⦆ laufen um ⦅n1⦆ Uhr."] * 2 + \
        ["Zwei Hunde ⦅t⦆ puppies ⦅/t⦆ laufen um 8:15 Uhr."]
    assert engine.constraints == [[], ["⦅n1⦆"], ["8:15"]]
    assert out.text == "Zwei Hunde ⦅t⦆ puppies ⦅/t⦆ laufen um 8:15 Uhr."
    assert engine.counts.unplaced == 1 and "no translation in the beam held each placeholder" in caplog.text


def test_the_best_translation_of_the_beam_that_holds_each_placeholder_is_taken(tok):
    engine = Echo(tok, second=True)
    out = engine.translate([SENTENCE, "Zwei Hunde laufen."], beam=3)
    assert engine.n_best == [1, 3]  # the whole beam where a sentence has placeholders (decoded apart)
    assert out[0].text == SENTENCE and engine.counts.unplaced == 0
    assert out[1].text == "Zwei Hunde laufen."


def test_without_keep_spans_numbers_are_plain_text(tok):
    engine = Echo(tok)
    engine.translate(SENTENCE, keep_spans=False)
    assert engine.read == [SENTENCE] and engine.constraints == [[]]
