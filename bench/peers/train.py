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

`python -m bench peers train MINUTES general`: the same three rows on the general mixture of
configs/general-de-en.yaml (Multi30k and Tatoeba, equal shares: OpenNMT-py's corpus weights 1 and 1, nmt's
data.corpora weights 1 and 1), tokenizers trained on both corpora together, both validation sets
(OpenNMT-py: their concatenation), BLEU on test2016 and the Tatoeba test. nmt's rows also report their
resident memory at the end of the first and of the last epoch they finished (metrics.jsonl's rss_mb).
Each toolkit runs in a process group of its own, and the whole group ends before the next row starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import DATA, ROOT, WORK, evaluate, report, require_data, run_command
from bench.peers import ONMT_ENV, install
from nmt.evaluate import corpus_bleu
from nmt.fileio import read_lines
from nmt.text.tokenizer import Tokenizer

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


@dataclass
class Setup:
    """What both toolkits train on: corpora (name -> (source, target) files, equal shares), validation
    sets and test sets (name -> (source, reference))."""
    name: str
    corpora: dict[str, tuple[Path, Path]]
    valid: dict[str, tuple[Path, Path]]
    tests: dict[str, tuple[Path, Path]]


def setup(mixture: str) -> Setup:
    if mixture == "multi30k":
        require_data()
        split = {s: (DATA / f"{s}.de", DATA / f"{s}.en") for s in ("train", "val", "test2016")}
        return Setup("multi30k", {"multi30k": split["train"]}, {"multi30k": split["val"]},
                     {"test2016": split["test2016"]})
    from bench.general import DATA as FOLDERS
    from bench.general import ensure_data, tests
    ensure_data("de", "en")
    tatoeba = FOLDERS / "tatoeba-de-en"
    return Setup("general", {"multi30k": (DATA / "train.de", DATA / "train.en"),
                             "tatoeba": (tatoeba / "train.de", tatoeba / "train.en")},
                 {"multi30k": (DATA / "val.de", DATA / "val.en"),
                  "tatoeba": (tatoeba / "valid.de", tatoeba / "valid.en")},
                 {k: v for k, v in tests("de", "en").items() if k != "newstest2014"})


def main(minutes: float = 10, mixture: str = "multi30k") -> None:
    data = setup(mixture)
    python = install()
    work = WORK / ("peers-train" if mixture == "multi30k" else f"peers-train-{mixture}")
    work.mkdir(parents=True, exist_ok=True)
    tokenizers = work / "tok"
    if not (tokenizers / "tgt.model").is_file():
        both = {side: work / f"tokenizer-text.{side}" for side in ("src", "tgt")}
        for k, path in enumerate(both.values()):  # every corpus's text, for one pair of tokenizers
            text = "".join(Path(files[k]).read_text(encoding="utf-8") for files in data.corpora.values())
            path.write_text(text, encoding="utf-8")
        subprocess.run([sys.executable, "-m", "nmt", "train-tokenizer", "--src", str(both["src"]),
                        "--tgt", str(both["tgt"]), "--out", str(tokenizers), "--vocab-size", "8000"],
                       check=True, cwd=ROOT)
    rows = [_onmt(python, work, tokenizers, minutes, data)]
    nmt_runs = {"nmt fp32, full softmax": ["--dtype", "fp32", "--set", "train.loss=full",
                                           "--set", "train.metric=ppl"],
                "nmt default recipe": []}
    for name, flags in nmt_runs.items():
        rows.append(_nmt(name, flags, work, tokenizers, minutes, data))
    onmt_speed = rows[0]["tok_per_s"]
    for r in rows:
        r["x_tok_per_s"] = r["tok_per_s"] / onmt_speed
    report("peers_train", [{"budget_min": minutes, "data": data.name, **r} for r in rows],
           ["toolkit", "data", "budget_min", "steps", "tok_per_s", "x_tok_per_s", "best_valid_ppl",
            *(f"{t}_bleu" for t in data.tests), "rss_mb", "rss_mb_epochs"])


def _onmt(python: Path, work: Path, tokenizers: Path, minutes: float, data: Setup) -> dict:
    src_tok, tgt_tok = (Tokenizer.load(tokenizers / f"{side}.model") for side in ("src", "tgt"))
    pieces = {}
    named = {(split, k): v for split, sets in (("train", data.corpora), ("valid", data.valid),
                                               ("test", data.tests)) for k, v in sets.items()}
    for (split, name), files in named.items():
        for side, path, tok in (("src", files[0], src_tok), ("tgt", files[1], tgt_tok)):
            out = pieces[split, name, side] = work / f"{split}.{name}.{side}.pieces"
            ids = tok.encode(list(read_lines(path)))
            out.write_text("".join(" ".join(tok.pieces(sentence)) + "\n" for sentence in ids))
    for side in ("src", "tgt"):  # OpenNMT-py validates on one set: all of them together
        pieces["valid", "all", side] = work / f"valid.all.{side}.pieces"
        pieces["valid", "all", side].write_text("".join(pieces["valid", name, side].read_text()
                                                        for name in data.valid))
    run = work / "onmt"
    corpora = {f"corpus_{k + 1}": {"path_src": str(pieces["train", name, "src"]),
                                   "path_tgt": str(pieces["train", name, "tgt"]), "weight": 1}
               for k, name in enumerate(data.corpora)}
    config = {**ONMT_OPTIONS, "save_data": str(run / "data"), "save_model": str(run / "model"),
              "src_vocab": str(run / "vocab.src"), "tgt_vocab": str(run / "vocab.tgt"),
              "data": {**corpora, "valid": {"path_src": str(pieces["valid", "all", "src"]),
                                            "path_tgt": str(pieces["valid", "all", "tgt"])}}}
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
    row = {"toolkit": "OpenNMT-py 3.5.1 (fp32, full softmax)", "steps": steps[-1],
           "checkpoint_step": int(checkpoints[-1].stem.rsplit("_", 1)[1]), "tok_per_s": _mean(windows[1:]),
           "best_valid_ppl": min(ppls) if ppls else None, "rss_mb": rss}
    for name, (_, ref) in data.tests.items():
        out = run / f"{name}.out"
        subprocess.run([str(bin_dir / "onmt_translate"), "-model", str(checkpoints[-1]), "-src",
                        str(pieces["test", name, "src"]), "-output", str(out), "-beam_size", "5",
                        "-batch_size", "64", "-length_penalty", "wu", "-alpha", "1.0", "-max_length_ratio",
                        "1.5", "-log_file", "/dev/null"], check=True, capture_output=True, env=ONMT_ENV)
        hyps = [tgt_tok.sp.decode_pieces(line.split()) for line in out.read_text().splitlines()]
        row[f"{name}_bleu"] = corpus_bleu(hyps, list(read_lines(ref)))
    return row


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
    """Run OpenNMT-py's trainer until MINUTES after its first training log line, then stop it and every
    process it started (its data loader's workers outlive their parent otherwise); its peak RSS in MB (it
    has no wall-clock limit of its own)."""
    with tempfile.NamedTemporaryFile("r") as peak:
        child = subprocess.Popen([sys.executable, "-m", "bench.children.peak", peak.name, *command], cwd=ROOT,
                                 env={**os.environ, **ONMT_ENV}, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, start_new_session=True)
        started = None
        while child.poll() is None:
            time.sleep(1)
            if started is None and log.is_file() and "Step " in log.read_text():
                started = time.monotonic()
            if started is not None and time.monotonic() - started >= minutes * 60:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGTERM)  # the trainer and its workers, not the launcher
                break
        child.wait()
        _end_group(child.pid)
        return int(peak.read() or 0) / 1024


def _end_group(group: int) -> None:
    """Wait up to 30 s for every process of `group` to end, then kill what is left."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)


def _nmt(name: str, flags: list[str], work: Path, tokenizers: Path, minutes: float, data: Setup) -> dict:
    run = work / ("nmt-" + "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-"))
    corpora = [{"name": k, "src": str(s), "tgt": str(t)} for k, (s, t) in data.corpora.items()]
    valid = [{"name": k, "src": str(s), "tgt": str(t)} for k, (s, t) in data.valid.items()]
    seconds, rss = run_command([sys.executable, "-m", "nmt", "train", "--config", CONFIG, "--out", str(run),
                                "--tokenizers", str(tokenizers), "--max-minutes", str(minutes),
                                *(a for key in ("train_src", "train_tgt", "valid_src", "valid_tgt")
                                  for a in ("--set", f"data.{key}=null")),  # the config's files give way
                                "--set", f"data.corpora={json.dumps(corpora)}",
                                "--set", f"data.valid={json.dumps(valid)}",
                                "--set", f"train.max_tokens={BATCH_TOKENS}", "--set", f"train.lr={LR}",
                                "--set", "train.clip=1.0", "--set", "train.seed=1", *TWIN, *flags],
                               log=work / f"{run.name}.log")
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    valid_records = [r for r in records if r["type"] == "valid"]
    windows = nmt_windows(records)
    row = {"toolkit": name, "steps": max(r["step"] for r in records),
           "tok_per_s": _mean(windows[1:]), "best_valid_ppl": min(r["ppl"] for r in valid_records),
           "rss_mb": rss, "rss_mb_epochs": epoch_rss(records), "wall_min": seconds / 60}
    for test, (src, ref) in data.tests.items():
        row[f"{test}_bleu"] = evaluate([run / "best.pt"], src, ref)["bleu"]
    return row


def epoch_rss(records: list[dict]) -> list[float]:
    """Resident memory (MB) at the last log line of each epoch a run finished (metrics.jsonl's rss_mb)."""
    last = {}
    for r in records:
        if r["type"] == "train" and r.get("rss_mb") is not None:
            last[r.get("epoch", 0)] = r["rss_mb"]
    return [round(last[e]) for e in sorted(last)]


def _mean(values: list[float]) -> float:
    return sum(values) / max(1, len(values))
