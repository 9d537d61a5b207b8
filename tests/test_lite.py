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
from nmt.lite import search as lite_search
from nmt.search import beam_search, greedy_search
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
    for options in ({"beam": 1}, {"beam": 3}, {"beam": 4, "n_best": 3}):
        want = torch_side.translate(lines, keep_spans=False, **options)
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
    want = [t.text for t in Translator.load(run, device="cpu").translate(lines, beam=5, keep_spans=False)]
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
        assert status == 400 and "ONNX engine" in body["error"]
    finally:
        status, log = server.stop()
    assert status == 0 and "Traceback" not in log


def test_int8_graphs_and_bad_folders(exported, tmp_path):
    from nmt.lite import Translator as Lite
    _, folder = exported["lstm"]
    assert Lite.load(folder, int8=True).translate("der hund läuft").text  # some translation
    with pytest.raises(NMTError, match="no exported model"):
        Lite.load(tmp_path)
    with pytest.raises(NMTError, match="no int8 graphs"):
        Lite.load(exported["attention"][1], int8=True)
    with pytest.raises(NMTError, match="need the torch engine"):
        Lite.load(folder).translate("x", glossary=[("a", "b")])
