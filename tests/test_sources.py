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
    """Writes back what it reads; `drop`: without the pieces that are placeholders."""

    def __init__(self, tok, *, placeholders=True, annotates=True, drop=False):
        self.src_tok = self.tgt_tok = tok
        self.max_src_len, self.languages, self.counts = 200, None, Counts()
        self.placeholders, self.annotates, self.drop = placeholders, annotates, drop
        self.reverse, self.attends = False, False
        self.read, self.constraints = [], []

    def search(self, src_ids, cfg, phrases, attention=False):
        out = []
        for k, ids in enumerate(src_ids):
            self.read.append(self.src_tok.decode([ids])[0])
            self.constraints.append([self.tgt_tok.decode([p])[0] for p in phrases[k]] if phrases else [])
            pieces = self.src_tok.pieces(ids)
            kept = [i for i, p in zip(ids, pieces, strict=True) if not (self.drop and p.startswith("⦅n"))]
            out.append([Hypothesis(kept, -1.0, -1.0)])
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
    assert engine.counts.unplaced == 1 and "did not hold each placeholder once" in caplog.text


def test_without_keep_spans_numbers_are_plain_text(tok):
    engine = Echo(tok)
    engine.translate(SENTENCE, keep_spans=False)
    assert engine.read == [SENTENCE] and engine.constraints == [[]]
