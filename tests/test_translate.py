import pytest
import torch

from nmt import NMTError, pipeline
from nmt.config import DecodeConfig
from nmt.fast.lstm import Int8Encoder
from nmt.fast.step import LSTMStep, ModelStep
from nmt.search.beam import beam_search
from nmt.text.tokenizer import BOS, EOS
from nmt.translate import Translator
from tests.helpers import lexicon_recall, needs_int8, nmt, texts


@pytest.fixture(scope="module")
def run_dir(toy_run):
    return toy_run


@pytest.fixture(scope="module")
def translator(run_dir):
    # On the CPU: outputs equal across batchings is a CPU promise. A GPU's matrix kernels change with
    # the batch's shape, and a near-tie between two hypotheses can then go either way.
    return Translator.load([run_dir], device="cpu")


def test_one_output_line_per_input_line_even_for_odd_input(translator):
    lines = ["der hund läuft", "", "   ", "жжж ☃", "eine katze", "\t"]
    out = texts(translator, lines, beam=3)
    assert len(out) == len(lines)
    assert out[1] == "" and out[2] == "" and out[5] == ""
    assert out[0] and out[4]


def test_the_trained_model_translates_the_lexicon(translator, toy):
    # 300 steps on the toy lexicon: a good share of the reference words must come out (learning, not running)
    assert lexicon_recall(translator, toy, beam=1) > 0.35


@needs_int8
def test_int8_translator_still_translates(run_dir, toy):
    quant = Translator.load([run_dir], quantize="int8")
    assert isinstance(quant.models[0].encoder, Int8Encoder)
    assert isinstance(quant.steps[0], LSTMStep) and quant.steps[0].dtype == torch.qint8  # int8 weights
    assert lexicon_recall(quant, toy, beam=2) > 0.35
    with pytest.raises(NMTError, match="int8"):
        Translator.load([run_dir], quantize="int4")


@pytest.mark.parametrize("quantize", [None, pytest.param("int8", marks=needs_int8)])
def test_gru_and_tied_embedding_models_translate(variant_run, toy, quantize):
    kind, run = variant_run
    translator = Translator.load([run], quantize=quantize)
    model = translator.models[0]
    if kind == "gru":
        assert "GRU" in type(model.decoder.rnn).__name__
        assert isinstance(translator.steps[0], ModelStep)  # the fast step is for LSTMs only
    elif quantize is None:
        assert model.output.weight is model.decoder.embed.weight
    if kind == "gru":  # torch's dynamic quantization of its layers
        assert ("quantized" in type(model.encoder.rnn).__module__) == (quantize == "int8")
        assert ("quantized" in type(model.decoder.rnn).__module__) == (quantize == "int8")
    else:  # nmt's int8: the encoder as Int8Encoder, the decoder as LSTMStep on int8 weights
        assert isinstance(model.encoder, Int8Encoder) == (quantize == "int8")
        assert translator.steps[0].dtype == (torch.qint8 if quantize else torch.float32)
    assert lexicon_recall(translator, toy, beam=3) > 0.35


@pytest.mark.parametrize("beam", [1, 4])
def test_output_does_not_depend_on_batching(translator, toy, beam):
    lines = toy["valid_src"].read_text().splitlines()
    one = texts(translator, lines, beam=beam, max_sentences=1)
    many = texts(translator, lines, beam=beam, max_sentences=64)
    assert one == many


@needs_int8
@pytest.mark.parametrize("beam", [1, 4])
def test_int8_output_does_not_depend_on_batching_either(run_dir, attention_run, toy, beam):
    lines = toy["valid_src"].read_text().splitlines()
    for run in (run_dir, attention_run):  # a 2-layer LSTM; a bidirectional encoder with attention
        quant = Translator.load([run], quantize="int8")
        outputs = {n: texts(quant, lines, beam=beam, max_sentences=n) for n in (1, 7, 64)}
        assert outputs[1] == outputs[7] == outputs[64]


def test_chunked_streaming_keeps_input_order(translator, toy, monkeypatch):
    lines = toy["valid_src"].read_text().splitlines()
    whole = texts(translator, lines, beam=2)
    monkeypatch.setattr(pipeline, "CHUNK_LINES", 3)
    assert texts(translator, iter(lines), beam=2) == whole


@torch.inference_mode()
def test_beam_one_equals_greedy(translator, toy):
    # The translator sends beam 1 to greedy search; here beam search itself runs with a beam of 1 on the
    # same encoder states and must find the same translations with the same scores.
    cfg = DecodeConfig(beam=1)
    ids = [s for s in translator.src_tok.encode(toy["valid_src"].read_text().splitlines()) if s]
    greedy = translator.search(ids, cfg)
    states, max_lens = translator.encode(ids, cfg)
    beam1 = beam_search(translator.stepper(None), translator.reorder, states, max_lens=max_lens, bos=BOS,
                        eos=EOS, beam=1, alpha=cfg.length_penalty, norm=cfg.length_norm)
    assert len(greedy) == len(beam1) == len(ids)
    assert [g[0].tokens for g in greedy] == [b[0].tokens for b in beam1]
    assert [g[0].score for g in greedy] == pytest.approx([b[0].score for b in beam1], rel=1e-5)


def test_n_best_lists_are_sorted(translator):
    cfg = DecodeConfig(beam=5, n_best=5)
    [nbest] = list(translator.translate_stream(["der mann spielt mit dem ball"], cfg))
    scores = [hyp.score for _, hyp in nbest]
    assert len(nbest) == 5 and scores == sorted(scores, reverse=True)


def test_too_long_sentences_are_cut_in_pieces_with_a_warning_never_truncated(run_dir, caplog):
    translator = Translator.load([run_dir])  # its own: `counts` count over a translator's life
    long_line = " ".join(["hund"] * 100)  # 100 pieces and more, over the toy model's limit of 40
    with caplog.at_level("WARNING", logger="nmt"):
        out = texts(translator, [long_line, "der hund", long_line], beam=2)
    assert len(out) == 3 and translator.counts.cut == 2 and translator.counts.truncated == 0
    assert "input line 1: " in caplog.text and "input line 3: " in caplog.text and "pieces" in caplog.text
    # every piece was translated: far more words than the 40 tokens a truncated line would have kept
    assert len(out[0].split()) > 60, out[0]
    with caplog.at_level("WARNING", logger="nmt"):  # one word with nowhere to cut: truncated, and said so
        texts(translator, ["hund" * 100], beam=1)
    assert translator.counts.truncated == 1 and "truncated" in caplog.text


def test_ensemble_of_one_model_twice_equals_the_model(run_dir, translator, toy):
    lines = toy["valid_src"].read_text().splitlines()[:10]
    pair = Translator.load([run_dir, run_dir / "last.pt"])
    assert texts(pair, lines, beam=3) == texts(Translator.load([run_dir / "last.pt"]), lines, beam=3)


def test_the_python_example_of_the_guide_runs_as_shown(toy_run, capsys):
    import re
    from pathlib import Path

    import nmt
    assert nmt.Translator is Translator  # `from nmt import Translator` works
    guide = (Path(__file__).resolve().parents[1] / "docs" / "guide" / "python.md").read_text()
    example = re.search(r"```python\n(.*?)```", guide, re.S).group(1)
    assert '"runs/small"' in example
    exec(example.replace('"runs/small"', repr(str(toy_run))), {})
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3  # two texts with their alternatives, then the single text


def test_translate_keeps_line_breaks_and_refuses_unknown_options(translator):
    one, two = translator.translate(["der hund läuft\n\neine katze", "der hund läuft"], beam=3)
    assert one.text.split("\n")[0] == two.text and one.text.count("\n") == 2 and one.text.split("\n")[1] == ""
    with pytest.raises(NMTError, match="unknown decoding option temperature"):
        translator.translate(["der hund"], temperature=0.5)
    best = translator.translate("der mann spielt mit dem ball", beam=4, n_best=3)
    scores = [best.score] + [a.score for a in best.alternatives]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True)


def test_a_checkpoint_made_before_attention_translates_as_it_did():
    # tests/data/before-attention.pt was written by nmt before the model had attention or a bidirectional
    # encoder; the JSON beside it holds what that version translated, on the CPU (a GPU's sums differ)
    import json
    from pathlib import Path
    data = Path(__file__).parent / "data"
    expected = json.loads((data / "before-attention.json").read_text())
    old = Translator.load(data / "before-attention.pt", device="cpu")
    assert [t.text for t in old.translate(expected["sources"], beam=1)] == expected["greedy"]
    beam = old.translate(expected["sources"], beam=3)
    assert [t.text for t in beam] == expected["beam3"]
    assert [t.score for t in beam] == pytest.approx(expected["beam3_scores"], rel=1e-4)


@pytest.mark.parametrize("quantize", [None, pytest.param("int8", marks=needs_int8)])
def test_an_attention_model_learns_the_lexicon_and_translates_in_fp32_and_int8(attention_run, toy, quantize):
    translator = Translator.load(attention_run, quantize=quantize)
    # attention lines each word up with its source word: far beyond the 0.35 the encoder state alone reaches
    assert lexicon_recall(translator, toy, beam=3) > 0.7


@pytest.mark.parametrize("beam", [1, 4])
def test_attention_output_does_not_depend_on_batching(attention_run, toy, beam):
    translator = Translator.load(attention_run, device="cpu")  # a CPU promise, as for `translator`
    lines = toy["valid_src"].read_text().splitlines()
    assert texts(translator, lines, beam=beam, max_sentences=1) == texts(translator, lines, beam=beam,
                                                                           max_sentences=64)


def test_attention_n_best_and_ensembles(attention_run, toy):
    single = Translator.load(attention_run)
    lines = toy["valid_src"].read_text().splitlines()[:8]
    assert texts(Translator.load([attention_run, attention_run / "last.pt"]), lines, beam=3) == \
        texts(single, lines, beam=3)
    best = single.translate("der mann spielt mit dem ball", beam=5, n_best=4)
    scores = [best.score] + [a.score for a in best.alternatives]
    assert len(scores) == 4 and scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_alignments_line_words_up_in_reading_order(attention_run, reversed_attention_run, dtype):
    # "der hund läuft" -> "the dog runs": word k attends to word k. The reversed-source model read the
    # sentence backwards; its weights must come back in reading order too.
    for run in (attention_run, reversed_attention_run):
        translator = Translator.load(run, dtype=dtype)
        [nbest] = list(translator.translate_stream(["der hund läuft"], DecodeConfig(beam=3)))
        [record] = translator.alignments(["der hund läuft"], [nbest[0][1]])
        assert record["source"] == ["▁der", "▁hund", "▁läuft"], record
        assert record["target"] == ["▁the", "▁dog", "▁runs", "</s>"], record
        rows = record["weights"]
        assert [max(range(3), key=row.__getitem__) for row in rows[:3]] == [0, 1, 2], rows
        assert all(sum(row) == pytest.approx(1, abs=1e-3) for row in rows)


def test_attention_out_writes_one_json_line_per_output_line(attention_run, run_dir, tmp_path):
    import json

    lines = ["der hund läuft", "", "eine katze sitzt im park"] * 100  # more than one 256-line flush
    (tmp_path / "in.de").write_text("".join(line + "\n" for line in lines))
    r = nmt("translate", "--model", attention_run, "--input", tmp_path / "in.de", "--output",
            tmp_path / "out.en", "--attention-out", tmp_path / "att.jsonl", "--beam", 3)
    assert r.returncode == 0, r.stderr
    records = [json.loads(line) for line in (tmp_path / "att.jsonl").read_text().splitlines()]
    outputs = (tmp_path / "out.en").read_text().splitlines()
    assert [rec["index"] for rec in records] == list(range(300)) and len(outputs) == 300
    assert records[1] == {"index": 1, "source": [], "target": [], "weights": []}
    for rec, out in zip(records, outputs, strict=True):
        assert len(rec["weights"]) == len(rec["target"])
        assert all(len(w) == len(rec["source"]) for w in rec["weights"])
        assert "".join(rec["target"][:-1]).replace("▁", " ").strip() == out
    r = nmt("translate", "--model", run_dir, "--attention-out", tmp_path / "x.jsonl", input="der hund\n")
    assert r.returncode == 1 and "needs a model with attention" in r.stderr


@pytest.mark.parametrize("precision", ["bf16", pytest.param("int8", marks=needs_int8)])
def test_a_translator_leaves_the_models_handed_to_it_as_they_were(attention_run, toy, precision):
    from nmt import checkpoint
    model, src_tok, tgt_tok, _ = checkpoint.build(checkpoint.load(attention_run))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    kinds = {name: type(m) for name, m in model.named_modules()}
    translator = Translator([model], src_tok, tgt_tok, precision=precision)
    assert texts(translator, ["der hund läuft"], beam=2)[0]  # it decodes on its own copy
    assert {name: type(m) for name, m in model.named_modules()} == kinds  # no layer swapped in
    after = model.state_dict()
    assert all(after[k].dtype == v.dtype and torch.equal(after[k], v) for k, v in before.items())
    with pytest.raises(NMTError, match="eval mode"):
        Translator([model.train()], src_tok, tgt_tok)


def test_alternative_k_joins_the_kth_best_of_each_line_and_sentence(translator):
    """A text of two lines, the first of two sentences: its k-th alternative is each sentence's k-th best
    (a list of fewer gives its last), joined with the text's own spacing and line break; its score is the
    mean of its lines', each the mean of its sentences'."""
    text = "der hund läuft.  Die katze schläft!\nein mann sitzt im park"  # the capital starts a sentence
    cfg = DecodeConfig(beam=4, n_best=4)
    sentences = ["der hund läuft.", "Die katze schläft!", "ein mann sitzt im park"]
    nbests = [next(translator.translate_stream([s], cfg)) for s in sentences]
    got = translator.translate(text, beam=4, n_best=4)
    ranked = [got, *got.alternatives]
    assert len(ranked) == max(len(n) for n in nbests) and len({r.text for r in ranked}) > 1
    for k, alternative in enumerate(ranked):
        first, second, third = (n[min(k, len(n) - 1)] for n in nbests)
        assert alternative.text == f"{first[0]}  {second[0]}\n{third[0]}"
        line_scores = [(first[1].score + second[1].score) / 2, third[1].score]
        assert alternative.score == pytest.approx(sum(line_scores) / 2)
