"""`python -m bench peers train [MINUTES]`: nmt and OpenNMT-py 3.5.1 training the same model, side by side.

The architecture of configs/multi30k-de-en-attention.yaml, with general attention and untied embeddings
(OpenNMT-py's twin of it; the config itself has dot attention, tied embeddings and label smoothing), which
both toolkits build: a bidirectional 1x512 LSTM encoder (256 per direction), a 1x512 LSTM decoder with
Luong's general attention and no input feeding, embeddings of 256, dropout 0.3. Both read the same
sentencepiece pieces (one pair of tokenizers, trained once by `nmt train-tokenizer`; OpenNMT-py gets the
training and validation data as those pieces, and builds its vocabulary from them with onmt_build_vocab),
batches of 2,048 target tokens, Adam at lr 0.002, gradient norm clipped at 1, seed 1, on Multi30k de->en,
one run after the other, each for MINUTES (default 10) of wall clock:

1. OpenNMT-py (fp32, full softmax), in its own environment (bench/work/peers-venv, as for decoding),
   stopped after MINUTES of training (its first log line starts the clock); its last step checkpoint
   is what its user has.
2. nmt, fp32 and the full softmax: the same computation as OpenNMT-py (validation perplexity only).
3. nmt's default recipe for it: the sampled softmax (1,024 negatives), bf16 where the CPU runs it,
   checkpoints by validation BLEU, as the config trains; best.pt is what its user has.

Reported for each: training steps, target tokens/s (the mean of its log lines after the first, which
holds the warm-up, leaving out the intervals that hold a validation: OpenNMT-py's computes perplexity,
nmt's also decodes the validation set greedily for BLEU), the best validation perplexity (both toolkits
compute it over the same pieces with the full softmax), test2016 BLEU with beam 5 (GNMT length penalty
alpha 1, at most 1.5x the source length, the rules of nmt's decoder), and peak RSS. tokens/s ratios are
against OpenNMT-py's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import DATA, ROOT, WORK, evaluate, report, require_data, run_command
from bench.peers import ONMT_ENV, install
from nmt.evaluate import corpus_bleu
from nmt.fileio import read_lines
from nmt.tokenizer import Tokenizer

CONFIG = "configs/multi30k-de-en-attention.yaml"
BATCH_TOKENS, LR = 2048, 0.002
ONMT_OPTIONS = {  # the attention config, in OpenNMT-py 3.5.1's words
    "encoder_type": "brnn", "decoder_type": "rnn", "rnn_type": "LSTM", "enc_layers": 1, "dec_layers": 1,
    "hidden_size": 512, "word_vec_size": 256, "global_attention": "general", "input_feed": 0,
    "dropout": [0.3], "batch_type": "tokens", "batch_size": BATCH_TOKENS, "normalization": "tokens",
    "optim": "adam", "learning_rate": LR, "max_grad_norm": 1.0, "seed": 1, "model_dtype": "fp32",
    "train_steps": 1_000_000, "valid_steps": 500, "report_every": 50, "save_checkpoint_steps": 100,
    "keep_checkpoint": 2, "overwrite": True,
}
# the config's architecture as OpenNMT-py builds it: general attention, an output matrix of its own
TWIN = ["--set", "model.attention=general", "--set", "model.tie_embeddings=false",
        "--set", "train.label_smoothing=0"]
STEP_LINE = re.compile(r"Step (\d+)(?:/\s*\d+)?;.*?(\d+)/\s*(\d+) tok/s")
VALID_PPL = re.compile(r"Validation perplexity: ([\d.]+)")


def main(minutes: float = 10) -> None:
    require_data()
    python = install()
    work = WORK / "peers-train"
    work.mkdir(parents=True, exist_ok=True)
    tokenizers = work / "tok"
    if not (tokenizers / "tgt.model").is_file():
        subprocess.run([sys.executable, "-m", "nmt", "train-tokenizer", "--src", str(DATA / "train.de"),
                        "--tgt", str(DATA / "train.en"), "--out", str(tokenizers), "--vocab-size", "8000"],
                       check=True, cwd=ROOT)
    rows = [_onmt(python, work, tokenizers, minutes)]
    nmt_runs = {"nmt fp32, full softmax": ["--dtype", "fp32", "--set", "train.loss=full",
                                           "--set", "train.metric=ppl"],
                "nmt default recipe": []}
    for name, flags in nmt_runs.items():
        rows.append(_nmt(name, flags, work, tokenizers, minutes))
    onmt_speed = rows[0]["tok_per_s"]
    for r in rows:
        r["x_tok_per_s"] = r["tok_per_s"] / onmt_speed
    report("peers_train", [{"budget_min": minutes, **r} for r in rows],
           ["toolkit", "budget_min", "steps", "tok_per_s", "x_tok_per_s", "best_valid_ppl", "test2016_bleu",
            "rss_mb"])


def _onmt(python: Path, work: Path, tokenizers: Path, minutes: float) -> dict:
    src_tok, tgt_tok = (Tokenizer.load(tokenizers / f"{side}.model") for side in ("src", "tgt"))
    files = {}
    for split in ("train", "val", "test2016"):
        for side, lang, tok in (("src", "de", src_tok), ("tgt", "en", tgt_tok)):
            path = files[split, side] = work / f"{split}.{side}.pieces"
            lines = list(read_lines(DATA / f"{split}.{lang}"))
            path.write_text("".join(" ".join(tok.pieces(ids)) + "\n" for ids in tok.encode(lines)))
    run = work / "onmt"
    config = {**ONMT_OPTIONS, "save_data": str(run / "data"), "save_model": str(run / "model"),
              "src_vocab": str(run / "vocab.src"), "tgt_vocab": str(run / "vocab.tgt"),
              "data": {name: {"path_src": str(files[split, "src"]), "path_tgt": str(files[split, "tgt"])}
                       for name, split in (("corpus_1", "train"), ("valid", "val"))}}
    run.mkdir(exist_ok=True)
    for old in run.glob("model_step_*.pt"):
        old.unlink()
    config_path = run / "config.yaml"
    config_path.write_text(json.dumps(config))  # JSON is YAML
    log = run / "train.log"
    log.unlink(missing_ok=True)
    bin_dir = python.parent
    subprocess.run([str(bin_dir / "onmt_build_vocab"), "-config", str(config_path), "-n_sample", "-1"],
                   check=True, capture_output=True, env=ONMT_ENV)
    rss = _train_for(minutes, [str(bin_dir / "onmt_train"), "-config", str(config_path), "-log_file",
                               str(log)], log=log)
    steps, windows, ppls = onmt_log(log.read_text())
    checkpoints = sorted(run.glob("model_step_*.pt"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    if not steps or not checkpoints:
        raise SystemExit(f"OpenNMT-py saved no checkpoint in {minutes} minutes; see {log}")
    out = run / "test2016.out"
    subprocess.run([str(bin_dir / "onmt_translate"), "-model", str(checkpoints[-1]), "-src",
                    str(files["test2016", "src"]), "-output", str(out), "-beam_size", "5", "-batch_size",
                    "64", "-length_penalty", "wu", "-alpha", "1.0", "-max_length_ratio", "1.5",
                    "-log_file", "/dev/null"], check=True, capture_output=True, env=ONMT_ENV)
    hyps = [tgt_tok.sp.decode_pieces(line.split()) for line in out.read_text().splitlines()]
    refs = list(read_lines(DATA / "test2016.en"))
    return {"toolkit": "OpenNMT-py 3.5.1 (fp32, full softmax)", "steps": steps[-1],
            "checkpoint_step": int(checkpoints[-1].stem.rsplit("_", 1)[1]), "tok_per_s": _mean(windows[1:]),
            "best_valid_ppl": min(ppls) if ppls else None, "test2016_bleu": corpus_bleu(hyps, refs),
            "rss_mb": rss}


def onmt_log(text: str) -> tuple[list[int], list[float], list[float]]:
    """OpenNMT-py's training log: the steps it logged, the target tokens/s of each logged interval that
    holds no validation, and the validation perplexities."""
    steps, windows, ppls, after_valid = [], [], [], False
    for line in text.splitlines():
        if match := STEP_LINE.search(line):
            steps.append(int(match[1]))
            if not after_valid:
                windows.append(float(match[3]))
            after_valid = False
        elif match := VALID_PPL.search(line):
            ppls.append(float(match[1]))
            after_valid = True
    return steps, windows, ppls


def nmt_windows(records: list[dict]) -> list[float]:
    """The target tokens/s of each logged interval of an nmt run (metrics.jsonl) that holds no validation."""
    return [r["tok_per_s"] for before, r in zip([{"type": "start"}, *records[:-1]], records, strict=True)
            if r["type"] == "train" and before["type"] != "valid"]


def _train_for(minutes: float, command: list[str], *, log: Path) -> float:
    """Run OpenNMT-py's trainer until MINUTES after its first training log line, then stop it; its peak
    RSS in MB (it has no wall-clock limit of its own)."""
    with tempfile.NamedTemporaryFile("r") as peak:
        child = subprocess.Popen([sys.executable, "-m", "bench.children.peak", peak.name, *command], cwd=ROOT,
                                 env={**os.environ, **ONMT_ENV}, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        started = None
        while child.poll() is None:
            time.sleep(1)
            if started is None and log.is_file() and "Step " in log.read_text():
                started = time.monotonic()
            if started is not None and time.monotonic() - started >= minutes * 60:
                # the launcher's child is OpenNMT-py's trainer; its data workers follow it
                subprocess.run(["pkill", "-TERM", "-P", str(child.pid)], check=False)
                break
        child.wait()
        return int(peak.read() or 0) / 1024


def _nmt(name: str, flags: list[str], work: Path, tokenizers: Path, minutes: float) -> dict:
    run = work / ("nmt-" + "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-"))
    seconds, rss = run_command([sys.executable, "-m", "nmt", "train", "--config", CONFIG, "--out", str(run),
                                "--tokenizers", str(tokenizers), "--train-src", str(DATA / "train.de"),
                                "--train-tgt", str(DATA / "train.en"), "--valid-src", str(DATA / "val.de"),
                                "--valid-tgt", str(DATA / "val.en"), "--max-minutes", str(minutes),
                                "--set", f"train.max_tokens={BATCH_TOKENS}", "--set", f"train.lr={LR}",
                                "--set", "train.clip=1.0", "--set", "train.seed=1", *TWIN, *flags],
                               log=work / f"{run.name}.log")
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    valid = [r for r in records if r["type"] == "valid"]
    windows = nmt_windows(records)
    return {"toolkit": name, "steps": max(r["step"] for r in records),
            "tok_per_s": _mean(windows[1:]), "best_valid_ppl": min(r["ppl"] for r in valid),
            "test2016_bleu": evaluate([run / "best.pt"], DATA / "test2016.de", DATA / "test2016.en")["bleu"],
            "rss_mb": rss, "wall_min": seconds / 60}


def _mean(values: list[float]) -> float:
    return sum(values) / max(1, len(values))
