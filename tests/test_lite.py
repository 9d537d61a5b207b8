"""`nmt export` and the decoder without PyTorch (nmt.lite): its search against search.py's on hand-made
tables, exported toy models against the torch Translator, and the lite path where torch cannot be
imported at all (a stand-in `torch` package that refuses, first on the path)."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from nmt import NMTError
from nmt.alignment import reading_order
from nmt.config import DecodeConfig
from nmt.lite import search as lite_search
from nmt.search.beam import beam_search, greedy_search
from nmt.serving.launch import Server, http
from nmt.translate import Translator

from .helpers import ENV
from .test_search import BOS, EOS, TABLE, reorder, start, table_step

pytest.importorskip("onnxruntime", reason="make install brings onnxruntime")
pytest.importorskip("onnx", reason="exporting needs onnx (the full extra)")


def numpy_step(table):
    """test_search's table model for the NumPy search: the same tables, arrays in and out."""
    step = table_step(table)

    def run(tokens, state):
        log_probs, state = step(torch.from_numpy(tokens), torch.from_numpy(state))
        return log_probs.numpy(), state.numpy()
    return run


def numpy_reorder(state, rows):
    return state[:, rows]


WIDE = {(): [0.0, 0.5, 0.3, 0.2], (1,): [0.3, 0.3, 0.2, 0.2], (2,): [0.6, 0.1, 0.1, 0.2],
        (3,): [0.2, 0.2, 0.3, 0.3], (1, 1): [0.5, 0.2, 0.2, 0.1], (3, 3): [0.9, 0.05, 0.05, 0.0]}


@pytest.mark.parametrize("table", [TABLE, WIDE])
@pytest.mark.parametrize("beam, n_best", [(1, 1), (2, 1), (3, 3)])
def test_the_numpy_search_finds_what_the_torch_search_finds(table, beam, n_best):
    limit = 6
    if beam == 1:
        want = greedy_search(table_step(table), reorder, start(), max_lens=torch.tensor([limit]), bos=BOS,
                             eos=EOS)
        got = lite_search.greedy_search(numpy_step(table), numpy_reorder, start().numpy(),
                                        max_lens=np.array([limit]), bos=BOS, eos=EOS)
    else:
        want = beam_search(table_step(table), reorder, start(), max_lens=torch.tensor([limit]), bos=BOS,
                           eos=EOS, beam=beam, n_best=n_best)
        got = lite_search.beam_search(numpy_step(table), numpy_reorder, start().numpy(),
                                      max_lens=np.array([limit]), bos=BOS, eos=EOS, beam=beam, n_best=n_best)
    assert [[h.tokens for h in hyps] for hyps in got] == [[h.tokens for h in hyps] for hyps in want]
    assert [[round(h.score, 5) for h in hyps] for hyps in got] == [[round(h.score, 5) for h in hyps]
                                                                   for hyps in want]


def ranked_step(table, lie: bool = False):
    """numpy_step with the step's own ranking of each row's best 8 pieces in the state (as the decoder
    graph's TopK gives it); lie: the worst 8 instead, to show that search follows it."""
    step = numpy_step(table)

    def run(tokens, state):
        log_probs, h = step(tokens, state["h"])
        order = np.argsort(log_probs if lie else -log_probs, axis=-1, kind="stable")[:, :8]
        return log_probs, {"h": h, "ranked": (np.take_along_axis(log_probs, order, -1), order)}
    return run


@pytest.mark.parametrize("table", [TABLE, WIDE])
@pytest.mark.parametrize("beam", [1, 2, 3])
def test_the_search_reads_the_steps_own_ranking_and_finds_the_same(table, beam):
    def search(step, limit=6):
        common = dict(max_lens=np.array([limit, 3]), bos=BOS, eos=EOS, ranked_fn=lambda s: s.get("ranked"))
        state = {"h": np.repeat(start().numpy(), 2, axis=1)}
        reorder_dict = lambda s, rows: {"h": s["h"][:, rows]}  # noqa: E731
        if beam == 1:
            return lite_search.greedy_search(step, reorder_dict, state, **common)
        return lite_search.beam_search(step, reorder_dict, state, beam=beam, n_best=1, **common)
    plain = numpy_step(table)

    def unranked(tokens, state):
        log_probs, h = plain(tokens, state["h"])
        return log_probs, {"h": h}
    want = search(unranked)
    got = search(ranked_step(table))
    assert [[h.tokens for h in hyps] for hyps in got] == [[h.tokens for h in hyps] for hyps in want]
    if beam + 1 < 4:  # beam 3 reads all 4 pieces of these tables, in any order: no lie to follow
        lied = search(ranked_step(table, lie=True))
        assert [[h.tokens for h in hyps] for hyps in lied] != [[h.tokens for h in hyps] for hyps in want]


def test_regroup_in_numpy_is_regroup():
    from nmt.lite.translator import regroup as numpy_regroup
    from nmt.regroup import regroup
    rng = np.random.default_rng(0)
    cases = [([3, 5, 4], 3, 2), ([2, 0], 3, 2), ([0, 1, 2, 3, 4, 5], 3, 2), ([], 2, 3)]
    cases += [(sorted(rng.choice(12, size=int(n), replace=False).tolist()), 3, 4)
              for n in rng.integers(1, 12, 20)]
    cases += [(np.repeat(rng.permutation(4)[:k], 2).tolist(), 2, 4) for k in (1, 2, 3, 4)]
    for rows, per, sources in cases:
        kept, after = regroup(torch.tensor(rows, dtype=torch.long), per, sources)
        got_kept, got_after = numpy_regroup(np.array(rows, dtype=np.int64), per, sources)
        assert got_after == after, (rows, per)
        assert (got_kept is None) == (kept is None) and (kept is None or got_kept.tolist() == kept.tolist())


@pytest.fixture(scope="module")
def exported(toy_run, attention_run, tmp_path_factory):
    from nmt.export import export
    out = {}
    for name, run in (("lstm", toy_run), ("attention", attention_run)):
        out[name] = (run, tmp_path_factory.mktemp(f"onnx_{name}"))
        export(run, out[name][1], int8=name == "lstm")
    return out


@pytest.mark.parametrize("name", ["lstm", "attention"])
def test_an_exported_model_translates_as_the_torch_model_does(exported, toy, name):
    from nmt.lite import Translator as Lite
    run, folder = exported[name]
    torch_side, lite = Translator.load(run, device="cpu"), Lite.load(folder)
    lines = toy["valid_src"].read_text().splitlines()[:40] + ["", "der hund läuft. die katze schläft!"]
    for options in ({"beam": 1}, {"beam": 3}, {"beam": 4, "n_best": 3}, {"beam": 3, "no_repeat_ngram": 2}):
        want = torch_side.translate(lines, **options)
        got = lite.translate(lines, **options)
        assert [t.text for t in got] == [t.text for t in want], options
        assert [[a.text for a in t.alternatives] for t in got] == [[a.text for a in t.alternatives]
                                                                    for t in want]
    assert [t.text for t in lite.translate(lines, beam=3, max_sentences=1)] == \
        [t.text for t in lite.translate(lines, beam=3, max_sentences=64)]


def test_the_export_is_checked_and_a_difference_refuses_it(toy_run, tmp_path, monkeypatch):
    import nmt.export as export_mod
    monkeypatch.setattr(export_mod, "TOLERANCE", 0.0)
    with pytest.raises(NMTError, match="differ from torch's by .* the export was not written"):
        export_mod.export(toy_run, tmp_path / "out")
    assert not (tmp_path / "out").exists()


NO_TORCH = "raise ImportError('torch is not installed in this environment')\n"


def test_without_torch_the_lite_command_the_api_and_the_server_translate(exported, toy, tmp_path):
    # A stand-in torch that refuses to import, first on the path: the lite path must never need it.
    (tmp_path / "blocked" / "torch").mkdir(parents=True)
    (tmp_path / "blocked" / "torch" / "__init__.py").write_text(NO_TORCH)
    env = {**ENV, "PYTHONPATH": str(tmp_path / "blocked")}
    run, folder = exported["attention"]
    lines = toy["valid_src"].read_text().splitlines()[:12]
    want = [t.text for t in Translator.load(run, device="cpu").translate(lines, beam=5)]
    lite = os.path.join(os.path.dirname(sys.executable), "nmt-lite")
    done = subprocess.run([lite, "translate", "--model", str(folder)], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == want
    script = ("import sys; from nmt.lite import Translator; t = Translator.load(sys.argv[1]);"
              "print(t.translate('der hund läuft').text); print('torch' in sys.modules)")
    api = subprocess.run([sys.executable, "-c", script, str(folder)], capture_output=True, text=True, env=env)
    assert api.returncode == 0, api.stderr
    assert api.stdout.splitlines()[1] == "False"
    server = Server("--engine", "onnx", "--model", folder, env={"PYTHONPATH": str(tmp_path / "blocked")})
    try:
        status, body = http(server.url + "/translate", {"q": lines[:3], "source": "de", "target": "en"})
        assert status == 200 and body["translatedText"] == want[:3]
        status, body = http(server.url + "/translate", {"q": "der hund", "source": "de", "target": "en",
                                                        "glossary": [{"source": "hund", "target": "cat"}]})
        assert status == 200 and "cat" in body["translatedText"].split()
    finally:
        status, log = server.stop()
    assert status == 0 and "Traceback" not in log


def test_int8_graphs_and_bad_folders(exported, toy, tmp_path):
    from nmt.lite import Translator as Lite
    _, folder = exported["lstm"]
    int8 = Lite.load(folder, int8=True)
    assert int8.translate("der hund läuft").text  # some translation
    lines = toy["valid_src"].read_text().splitlines()[:40]
    for beam in (1, 5):  # activations quantized per row: a sentence's translation ignores its batch
        alone = [int8.translate(line, beam=beam).text for line in lines]
        assert [t.text for t in int8.translate(lines, beam=beam, max_sentences=64)] == alone
    with pytest.raises(NMTError, match="no exported model"):
        Lite.load(tmp_path)
    with pytest.raises(NMTError, match="no int8 graphs"):
        Lite.load(exported["attention"][1], int8=True)
    with pytest.raises(NMTError, match="needs a model with attention"):
        Lite.load(folder).translate("der hund", attention=True)


CONSTRAINED = {(): [0.0, 0.5, 0.4, 0.1], (2,): [0.1, 0.6, 0.1, 0.2], (1,): [0.1, 0.0, 0.8, 0.1]}


@pytest.mark.parametrize("constraints, joins", [([[[2, 3]], [[3]], [[1], [3]]], None),
                                                ([[[1]], [[1], [2]], [[3, 1]]], [False, False, True, False])])
def test_the_numpy_loop_takes_the_same_constrained_strategy(constraints, joins):
    """test_constraints' tables: the NumPy loop, with search/constraints.py's strategy, finds what the torch
    loop finds, each sentence's constraints in its translation."""
    from .test_constraints import step_of
    options = dict(bos=BOS, eos=EOS, beam=4, n_best=2, norm="none", constraints=constraints, joins=joins)
    want = beam_search(step_of(CONSTRAINED), reorder, start(3), max_lens=torch.tensor([8] * 3), **options)
    got = lite_search.beam_search(_numpy(step_of(CONSTRAINED)), numpy_reorder, start(3).numpy(),
                                  max_lens=np.array([8] * 3), **options)
    assert [[h.tokens for h in hyps] for hyps in got] == [[h.tokens for h in hyps] for hyps in want]
    assert [[round(h.log_prob, 4) for h in hyps] for hyps in got] == [[round(h.log_prob, 4) for h in hyps]
                                                                      for hyps in want]
    for hyps, phrases in zip(got, constraints, strict=True):
        for phrase in phrases:
            assert any(hyps[0].tokens[i : i + len(phrase)] == phrase for i in range(len(hyps[0].tokens)))


def _numpy(step):
    def run(tokens, state):
        log_probs, state = step(torch.from_numpy(tokens), torch.from_numpy(state))
        return log_probs.numpy(), state.numpy()
    return run


def test_kept_spans_glossaries_and_html_as_the_torch_engine(exported):
    """The ONNX engine runs the same text pipeline: kept spans, glossary terms (with characters its
    vocabulary lacks), constraints, HTML with inline elements placed by the graph's attention, and the
    attention records themselves, all as the torch engine gives them on the toy attention model."""
    from nmt.lite import Translator as Lite
    run, folder = exported["attention"]
    torch_side, lite = Translator.load(run, device="cpu"), Lite.load(folder)
    glossary = [("hund", "cat"), ("park", "x@y.org")]
    lines = ["der hund läuft im park", "ein mann mit 12 katzen und 3,5 hunden.",
             "die frau sitzt 14:30 im gras"]
    for options in ({}, {"glossary": glossary}, {"beam": 1, "glossary": glossary}):
        want, got = torch_side.translate(lines, **options), lite.translate(lines, **options)
        assert [t.text for t in got] == [t.text for t in want], options
    assert "cat" in got[0].text.split() and "x@y.org" in got[0].text and "12" in got[1].text.split()
    explicit = [["red"], [], ["blue dog"]]
    assert [t.text for t in lite.translate(lines, constraints=explicit)] == \
        [t.text for t in torch_side.translate(lines, constraints=explicit)]
    page = '<p>ein <b>roter</b> hund läuft im <a href="/p">park</a>. die katze schläft.</p>'
    assert lite.translate(page, format="html").text == torch_side.translate(page, format="html").text
    src_ids = lite.src_tok.encode(lines)  # the graph's weights recorded while decoding: the second pass's
    for cfg in (DecodeConfig(beam=1), DecodeConfig(beam=3, n_best=2)):
        for hyps, source in zip(lite.search(src_ids, cfg, attention=True), src_ids, strict=True):
            fresh = lite.attention_weights([source] * len(hyps), [h.tokens for h in hyps])
            assert all(np.allclose(reading_order(h.attention, len(source), lite.reverse), w, atol=1e-5)
                       for h, w in zip(hyps, fresh, strict=True))
    want = torch_side.translate(lines[:1], attention=True)[0]
    got = lite.translate(lines[:1], attention=True)[0]
    [w], [g] = want.sentences, got.sentences
    assert (g["text"], g["alignment"]["source"], g["alignment"]["target"]) == \
        (w["text"], w["alignment"]["source"], w["alignment"]["target"])
    assert np.allclose(g["alignment"]["weights"], w["alignment"]["weights"], atol=1e-3)


def test_documents_come_out_of_the_onnx_engine_as_out_of_the_torch_one(exported, tmp_path):
    """A .docx with runs inside sentences and an .srt with a sentence over two cues, through `nmt-lite
    translate` (by extension) and the torch engine's Python API: the same bytes."""
    pytest.importorskip("docx", reason="python-docx (the test extra) makes the .docx input")
    from bench import sample_documents as made
    run, folder = exported["attention"]
    torch_side = Translator.load(run, device="cpu")
    inputs = {"bericht.docx": made.docx_bytes("der hund", [[("der ", None), ("hund", "b"), (" läuft", None)]],
                                              [["die katze"]], "heute"),
              "film.srt": made.subtitles(["der hund läuft", "im park.", "die katze schläft."])}
    for name, data in inputs.items():
        (tmp_path / name).write_bytes(data)
        done = subprocess.run([sys.executable, "-m", "nmt.lite.cli", "translate", "--model", str(folder),
                               "--input", str(tmp_path / name), "--output", str(tmp_path / f"en.{name}")],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        want = torch_side.translate_document(data, name.rsplit(".", 1)[1]).data
        assert (tmp_path / f"en.{name}").read_bytes() == want, name


def test_numpy_top_k_ranks_as_the_torch_search_does():
    """lite's top() against search/topk.row_topk on rows full of ties and -inf: the same columns in the same
    order (ties to the lower column), by argmax passes on wide rows and by the exact sort on narrow ones."""
    from nmt.lite.search import top
    from nmt.search.topk import row_topk
    rng = np.random.default_rng(1)
    for width in (7, 40, 200, 8000):
        x = rng.integers(-3, 3, size=(9, width)).astype(np.float32)
        x[rng.random(x.shape) < 0.3] = -np.inf
        x[0] = -np.inf
        x[0, 5] = 0  # one finite value: the rest of its top k are -inf ties
        for k in (1, 3, 6, 16):
            values, cols = top(x, min(k, width))
            want_values, want_cols = row_topk(torch.from_numpy(x), min(k, width))
            assert np.array_equal(cols, want_cols.numpy()) and np.array_equal(values, want_values.numpy())
