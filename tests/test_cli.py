"""The `nmt` command as users run it: a subprocess, real files, exit codes, no tracebacks."""

import contextlib
import json
import subprocess
import sys

import pytest
import sacrebleu

from tests.helpers import ENV, SHARED, nmt

COMMANDS = ["data", "train-tokenizer", "prepare", "train", "translate", "evaluate", "serve", "shortlist",
            "average", "export", "plot"]


def test_help_lists_every_command_and_each_has_examples():
    top = nmt("--help")
    assert top.returncode == 0
    from nmt.cli import app
    registered = {c.name or c.callback.__name__ for c in app.registered_commands} | {"data"}
    assert registered == set(COMMANDS)  # a new command joins this test
    for command in COMMANDS:
        assert f"  {command} " in top.stdout, command
    for command in (["data", "multi30k"], *([c] for c in COMMANDS if c != "data")):
        result = nmt(*command, "--help")
        assert result.returncode == 0 and "Example" in result.stdout, command
    assert nmt("--version").stdout.startswith("nmt ")


def test_end_to_end_tokenizer_train_translate_evaluate(toy, tmp_path):
    tok = tmp_path / "tok"
    r = nmt("train-tokenizer", "--src", toy["train_src"], "--tgt", toy["train_tgt"], "--out", tok,
            "--vocab-size", 48)
    assert r.returncode == 0, r.stderr
    assert "src:" in r.stdout and "unknown pieces" in r.stdout
    run = tmp_path / "run"
    r = nmt("train", "--out", run, "--train-src", toy["train_src"], "--train-tgt", toy["train_tgt"],
            "--valid-src", toy["valid_src"], "--valid-tgt", toy["valid_tgt"], "--tokenizers", tok,
            "--max-steps", 20, "--threads", 1, "--set", "model.hidden=32", "--set", "model.emb=16",
            "--set", "train.max_tokens=256", "--set", "train.num_sampled=16", "--set", "train.valid_every=10")
    assert r.returncode == 0, r.stderr
    assert (run / "best.pt").is_file() and (run / "last.pt").is_file()
    assert "step 20" in (run / "train.log").read_text()

    source = toy["valid_src"].read_text()
    r = nmt("translate", "--model", run, "--beam", 3, input=source)  # a pipe, as in `nmt translate < x > y`
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == len(source.splitlines())

    r = nmt("translate", "--model", run, "--input", "/dev/null", "--output", "/dev/null")  # devices are fine
    assert r.returncode == 0 and r.stdout == "", r.stderr

    hyp = tmp_path / "hyp.en"
    r = nmt("translate", "--model", run / "last.pt", "--input", toy["valid_src"], "--output", hyp, "--greedy")
    assert r.returncode == 0, r.stderr
    assert len(hyp.read_text().splitlines()) == len(source.splitlines())

    for flags in (["--quantize", "int8"], ["--exhaustive"]):
        r = nmt("translate", "--model", run, "--input", toy["valid_src"], "--beam", 3, *flags)
        assert r.returncode == 0 and len(r.stdout.splitlines()) == len(source.splitlines()), (flags, r.stderr)

    r = nmt("translate", "--model", run, "--input", toy["valid_src"], "--n-best", 3, "--beam", 3)
    rows = [line.split("\t") for line in r.stdout.splitlines()]
    assert len(rows) == 3 * len(source.splitlines()) and all(len(row) == 3 for row in rows)
    assert [int(row[0]) for row in rows[:6]] == [0, 0, 0, 1, 1, 1]

    # scored against hypotheses with a BLEU far from 0 and 100 (the references, every other one reversed),
    # which a 20-step model's output would not have
    refs = toy["valid_tgt"].read_text().splitlines()
    near = [" ".join(r.split()[::-1]) if i % 2 else r for i, r in enumerate(refs)]
    (tmp_path / "near.en").write_text("".join(line + "\n" for line in near))
    r = nmt("evaluate", "--hyp", tmp_path / "near.en", "--ref", toy["valid_tgt"],
            "--metrics", "bleu,chrf,ter", "--json")
    assert r.returncode == 0, r.stderr
    scores = [json.loads(line) for line in r.stdout.splitlines()]
    assert [s["metric"] for s in scores] == ["bleu", "chrf", "ter"]
    assert 20 < scores[0]["score"] < 90  # neither nothing nor everything in common
    assert scores[0]["score"] == pytest.approx(sacrebleu.corpus_bleu(near, [refs]).score)
    assert scores[2]["score"] == pytest.approx(sacrebleu.corpus_ter(near, [refs]).score)
    assert "nrefs:1" in scores[0]["signature"]

    r = nmt("evaluate", "--model", run / "last.pt", "--src", toy["valid_src"], "--ref", toy["valid_tgt"],
            "--greedy", "--save-hyp", tmp_path / "saved.en", "--device", "cpu", "--batch-size", 3)
    assert r.returncode == 0 and "BLEU" in r.stdout and "signature" in r.stdout
    assert (tmp_path / "saved.en").read_text() == hyp.read_text()

    r = nmt("average", run / "best.pt", run / "last.pt", "--out", tmp_path / "avg.pt")
    assert r.returncode == 0 and (tmp_path / "avg.pt").is_file()

    r = nmt("prepare", "--src", toy["train_src"], "--tgt", toy["train_tgt"], "--tokenizers", tok,
            "--out", tmp_path / "prep")
    assert r.returncode == 0 and "kept 600 of 600" in r.stdout


def test_user_mistakes_give_a_message_not_a_traceback(toy, tmp_path):
    short = tmp_path / "short.en"
    short.write_text("x\n")
    cases = [
        ("train", "--out", tmp_path / "r", "--train-src", toy["train_src"], "--train-tgt", short,
         "--valid-src", toy["valid_src"], "--valid-tgt", toy["valid_tgt"], "--tokenizers", toy["tok_dir"]),
        ("train", "--out", tmp_path / "r2", "--set", "model.hiden=3"),
        ("translate", "--model", tmp_path / "nothing"),
        ("translate", "--model", tmp_path / "nothing", "--quantize", "int4"),
        ("evaluate", "--hyp", toy["valid_tgt"], "--ref", short),
        ("data", "multi30k", "--out", tmp_path / "m", "--mirror", tmp_path / "empty"),
    ]
    for args in cases:
        r = nmt(*args)
        assert r.returncode != 0, args
        assert "Traceback" not in r.stderr and "error:" in r.stderr, (args, r.stderr)
    r = nmt("train", "--out", tmp_path / "r", "--train-src", toy["train_src"], "--train-tgt", short,
            "--valid-src", toy["valid_src"], "--valid-tgt", toy["valid_tgt"], "--tokenizers", toy["tok_dir"])
    assert "has 600 lines" in r.stderr and "has 1" in r.stderr
    assert "Traceback" in nmt("--debug", "translate", "--model", tmp_path / "nothing").stderr
    r = nmt("train-tokenizer", "--src", tmp_path / "missing", "--tgt", short, "--out", tmp_path / "t")
    assert r.returncode == 2 and "does not exist" in r.stderr


@pytest.mark.skipif(not SHARED.is_dir(), reason="no local copy of Multi30k")
def test_data_command_on_the_real_corpus(tmp_path):
    r = nmt("data", "multi30k", "--out", tmp_path / "m", "--mirror", SHARED)
    assert r.returncode == 0, r.stderr
    assert "train.de\t29000 lines" in r.stdout and "test2017.en\t1000 lines" in r.stdout


def _one_clean_line(result, *expected):
    assert result.returncode == 1, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr and "weights_only" not in result.stderr
    for text in expected:
        assert text in lines[0], (text, lines[0])


@pytest.mark.parametrize("setting, expected", [
    ("model.hidden=-5", "model.hidden must be >= 1, got -5"),
    ("model.hidden=0", "model.hidden must be >= 1, got 0"),
    ("model.emb=-8", "model.emb must be >= 1, got -8"), ("model.layers=0", "model.layers must be >= 1"),
    ("train.max_tokens=0", "train.max_tokens must be >= 1"),
    ("train.lr=-1", "train.lr must be >= 0, got -1.0"),
    ("model.dropout=1.5", "model.dropout must be in [0, 1), got 1.5"),
    ("train.num_sampled=0", "train.num_sampled must be >= 1, got 0"),
])
def test_out_of_range_settings_are_one_clean_line(tmp_path, setting, expected):
    config = tmp_path / "c.yaml"
    section, key = setting.split("=")[0].split(".")
    config.write_text(f"{section}:\n  {key}: {setting.split('=')[1]}\n")
    _one_clean_line(nmt("train", "--config", config, "--out", tmp_path / "r"), expected)  # from the file
    _one_clean_line(nmt("train", "--out", tmp_path / "r", "--set", setting), expected)    # from --set


def test_malformed_yaml_is_one_clean_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  hidden: [1, 2\ntrain: x\n")
    _one_clean_line(nmt("train", "--config", bad, "--out", tmp_path / "r"), f"{bad}:3:6: not valid YAML")
    _one_clean_line(nmt("train", "--out", tmp_path / "r", "--set", "data.train_src=[x"), "not valid YAML")


class Payload:
    def __reduce__(self):
        return (print, ("this would run",))


def test_files_that_are_not_checkpoints_are_one_clean_line(tmp_path):
    import torch
    (tmp_path / "random.pt").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "notes.txt").write_text("not a model\n")
    torch.save({"format": 1, "model": Payload()}, tmp_path / "evil.pt")
    for name in ("random.pt", "notes.txt"):
        _one_clean_line(nmt("translate", "--model", tmp_path / name, input=""), "not an nmt checkpoint")
    _one_clean_line(nmt("translate", "--model", tmp_path / "evil.pt", input=""), "refused", "could run code")
    # PyTorch's account of it, on request
    r = nmt("--debug", "translate", "--model", tmp_path / "evil.pt", input="")
    assert r.returncode == 1 and "Traceback" in r.stderr and "UnpicklingError" in r.stderr


def test_decoding_options_default_to_decode_config_in_translate_and_evaluate(tmp_path, monkeypatch):
    import dataclasses

    from typer.testing import CliRunner

    from nmt import cli
    from nmt.config import DecodeConfig, RuntimeConfig
    from nmt.search.scoring import Hypothesis
    from nmt.text.lines import Counts
    from nmt.translate import Translator

    calls = []

    class Recorder:
        counts, max_src_len = Counts(), 100

        def translate_stream(self, lines, cfg, **constraints):
            calls[-1]["cfg"] = cfg
            return ([("x", Hypothesis([], 0.0, 0.0))] for _ in lines)

    def load(cls, paths, runtime):
        calls.append(dataclasses.asdict(runtime))
        return Recorder()

    monkeypatch.setattr(Translator, "load", classmethod(load))
    src, ref = tmp_path / "src.de", tmp_path / "ref.en"
    src.write_text("a\nb\n")
    ref.write_text("x\nx\n")
    runner = CliRunner()
    evaluate = ["evaluate", "--model", "m", "--src", str(src), "--ref", str(ref)]
    assert runner.invoke(cli.app, ["translate", "--model", "m", "--input", str(src)]).exit_code == 0
    assert runner.invoke(cli.app, evaluate).exit_code == 0
    assert [c["cfg"] for c in calls] == [DecodeConfig(), DecodeConfig()]
    defaults = dataclasses.asdict(RuntimeConfig())
    assert all({k: v for k, v in c.items() if k != "cfg"} == defaults for c in calls)
    r = runner.invoke(cli.app, [*evaluate, "--device", "cpu", "--batch-size", "7", "--quantize", "int8",
                                "--greedy", "--length-penalty", "0"])
    assert r.exit_code == 0, r.output
    assert calls[-1]["device"] == "cpu" and calls[-1]["quantize"] == "int8"
    assert calls[-1]["cfg"] == DecodeConfig(beam=1, max_sentences=7, length_penalty=0.0)
    assert (calls[-1]["dtype"], calls[-1]["shortlist"]) == ("fp32", False)
    r = runner.invoke(cli.app, ["translate", "--model", "m", "--input", str(src), "--dtype", "bf16",
                                "--shortlist"])
    assert r.exit_code == 0, r.output
    assert (calls[-1]["dtype"], calls[-1]["shortlist"]) == ("bf16", True)


def test_average_of_different_models_is_one_clean_line(toy, tmp_path):
    common = ["--train-src", toy["train_src"], "--train-tgt", toy["train_tgt"],
              "--valid-src", toy["valid_src"], "--valid-tgt", toy["valid_tgt"],
              "--tokenizers", toy["tok_dir"],
              "--max-steps", 1, "--threads", 1, "--set", "model.emb=8", "--set", "train.max_tokens=128",
              "--set", "train.valid_every=1"]
    for name, hidden in (("a", 16), ("b", 24)):
        r = nmt("train", "--out", tmp_path / name, *common, "--set", f"model.hidden={hidden}")
        assert r.returncode == 0, r.stderr
    two = [tmp_path / "a" / "last.pt", tmp_path / "b" / "last.pt"]
    _one_clean_line(nmt("average", *two, "--out", tmp_path / "avg.pt"), "a different model")
    assert not (tmp_path / "avg.pt").exists()


def test_importing_nmt_does_not_import_torch():
    # the CLI answers config mistakes before the second torch takes to import
    code = "import sys, nmt, nmt.config, nmt.cli; print('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV)
    assert r.stdout.strip() == "False", r.stderr


def test_a_long_translation_shows_its_progress_on_a_terminal_only(toy_run, tmp_path):
    import os
    import pty
    src = tmp_path / "in.de"
    src.write_text("der hund läuft im park\n" * 2000)
    command = [sys.executable, "-m", "nmt", "translate", "--model", str(toy_run), "--input", str(src),
               "--output", str(tmp_path / "out.en"), "--greedy"]
    terminal, child_side = pty.openpty()
    proc = subprocess.Popen(command, stderr=child_side, stdout=subprocess.DEVNULL, env=ENV)
    os.close(child_side)
    shown = b""
    with contextlib.suppress(OSError):  # EIO once the command has ended and its side is closed
        while chunk := os.read(terminal, 4096):
            shown += chunk
    os.close(terminal)
    assert proc.wait() == 0
    last = shown.decode().replace("\r\n", "\n").split("\r")[-1]
    assert last.startswith("2000 lines | ") and "sentences/s | 100% | eta 00:00:00" in last, shown
    from typer.testing import CliRunner  # standard error captured, not a terminal: nothing written there

    from nmt.cli import app
    (tmp_path / "out.en").unlink()
    r = CliRunner().invoke(app, command[3:])
    assert r.exit_code == 0 and r.stderr == "", r.output
    assert len((tmp_path / "out.en").read_text().splitlines()) == 2000
