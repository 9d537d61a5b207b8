"""The `nmt` command as users run it: a subprocess, real files, exit codes, no tracebacks."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import SHARED

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def nmt(*args, input=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "nmt", *map(str, args)], capture_output=True, text=True,
                          input=input, cwd=cwd, env=ENV)


def test_help_lists_every_command_and_each_has_examples():
    top = nmt("--help")
    assert top.returncode == 0
    for command in ("data", "train-tokenizer", "prepare", "train", "translate", "evaluate", "average"):
        assert command in top.stdout
    for command in (["data", "multi30k"], ["train-tokenizer"], ["prepare"], ["train"], ["translate"],
                    ["evaluate"], ["average"]):
        result = nmt(*command, "--help")
        assert result.returncode == 0 and "Example" in result.stdout, command
    assert nmt("--version").stdout.startswith("nmt ")


def test_end_to_end_tokenizer_train_translate_evaluate(toy, tmp_path):
    tok = tmp_path / "tok"
    r = nmt("train-tokenizer", "--src", toy["train_src"], "--tgt", toy["train_tgt"], "--out", tok, "--vocab-size", 48)
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

    r = nmt("evaluate", "--hyp", hyp, "--ref", toy["valid_tgt"], "--metrics", "bleu,chrf,ter", "--json")
    assert r.returncode == 0, r.stderr
    scores = [json.loads(line) for line in r.stdout.splitlines()]
    assert [s["metric"] for s in scores] == ["bleu", "chrf", "ter"]
    assert 0 <= scores[0]["score"] <= 100 and "nrefs:1" in scores[0]["signature"]

    r = nmt("evaluate", "--model", run / "last.pt", "--src", toy["valid_src"], "--ref", toy["valid_tgt"], "--greedy",
            "--save-hyp", tmp_path / "saved.en")
    assert r.returncode == 0 and "BLEU" in r.stdout and "signature" in r.stdout
    assert (tmp_path / "saved.en").read_text() == hyp.read_text()

    r = nmt("average", run / "best.pt", run / "last.pt", "--out", tmp_path / "avg.pt")
    assert r.returncode == 0 and (tmp_path / "avg.pt").is_file()

    r = nmt("prepare", "--src", toy["train_src"], "--tgt", toy["train_tgt"], "--tokenizers", tok, "--out", tmp_path / "prep")
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
