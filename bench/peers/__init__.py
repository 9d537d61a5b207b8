"""`python -m bench peers CHECKPOINT [quick]`: nmt and OpenNMT-py 3.5.1 decoding the same model, side by side.
(`python -m bench peers train [MINUTES [general]]`: training side by side, bench/peers/train.py.)

The first run installs OpenNMT-py into its own environment (bench/work/peers-venv, from
bench/peers/requirements.txt) and converts the checkpoint into an OpenNMT-py checkpoint of the same
weights (onmt_convert.py); a reversed-source model gets its source pieces reversed. Then, on test2016,
for greedy and beam 5 at batch 1, 64 and 128 (quick: 64 and 128): each toolkit's decoding time with the
model loaded (in-process), its whole command's time and peak RSS, BLEU, and the rows x steps its decoder
multiplied. nmt runs in fp32 and with its faster options (bf16, shortlist, int8 and their mixes).
Both decode with nmt's length rules: GNMT length penalty alpha 1, at most 1.5 x the source length.
Decoding times are the faster of REPEATS runs for both toolkits (other tenants of a shared machine only
ever add time); whole commands run once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.common import DATA, ROOT, report, require_data, run_command
from bench.decode import OPTIONS, ensure_shortlist
from nmt.config import DecodeConfig
from nmt.evaluate import corpus_bleu
from nmt.fileio import read_lines
from nmt.translate import Translator

PEERS = Path(__file__).parent
VENV = ROOT / "bench" / "work" / "peers-venv"
ONMT = "OpenNMT-py==3.5.1"
ONMT_ENV = {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}  # its checkpoints pickle their argparse options
AT_BATCH_1 = ("fp32", "bf16+shortlist")  # batch 1 is slow: the baseline and the fastest option only
SEARCHES = (1, 5)
REPEATS = 2


def install() -> Path:
    """The peers environment's python, installing it when missing or out of date."""
    python, marker = VENV / "bin" / "python", VENV / ".installed"
    wanted = (PEERS / "requirements.txt").read_text() + ONMT
    if marker.is_file() and marker.read_text() == wanted:
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "-r", str(PEERS / "requirements.txt")], check=True)
    subprocess.run([*pip, "--no-deps", ONMT], check=True)
    marker.write_text(wanted)
    return python


def main(model: str, mode: str = "full", split: str = "test2016") -> None:
    if model == "train":  # `peers train [MINUTES [general]]`: training side by side
        from bench.peers.train import main as train
        train(float(mode) if mode != "full" else 10, split if split != "test2016" else "multi30k")
        return
    require_data()
    batches = (64, 128) if mode == "quick" else (1, 64, 128)
    python = install()
    base = Translator.load(model, device="cpu")
    folder = Path(model) if Path(model).is_dir() else Path(model).parent
    ensure_shortlist(model)
    work = ROOT / "bench" / "work" / "peers" / folder.name
    work.mkdir(parents=True, exist_ok=True)
    onmt_model = work / "onmt.pt"
    convert = subprocess.run([str(python), str(PEERS / "onmt_convert.py"), model, str(onmt_model)],
                             capture_output=True, text=True)  # OpenNMT-py's import warnings: shown on failure
    if convert.returncode:
        raise SystemExit(f"converting {model} for OpenNMT-py failed:\n{convert.stdout}{convert.stderr}")

    src_path = DATA / f"{split}.de"
    src, refs = list(read_lines(src_path)), list(read_lines(DATA / f"{split}.en"))
    pieces = work / f"{split}.pieces"  # the source as OpenNMT-py reads it: pieces, reversed if the model does
    pieces.write_text("".join(" ".join(reversed(p) if base.reverse else p) + "\n"
                              for p in map(base.src_tok.pieces, base.src_tok.encode(src))))
    rows = _onmt_rows(python, onmt_model, pieces, work, batches, base, refs)
    rows += _nmt_rows(model, src, refs, batches)
    onmt = {(r["search"], r["batch"]): r for r in rows if r["toolkit"] == "OpenNMT-py"}
    for r in rows:  # against OpenNMT-py fp32 at the same search and batch: speed-ups, identical lines
        peer = onmt[(r["search"], r["batch"])]
        r["x_decode"] = peer["decode_s"] / r["decode_s"]
        if "whole_s" in r and "whole_s" in peer:
            r["x_whole"] = peer["whole_s"] / r["whole_s"]
        r["same_as_onmt"] = sum(a == b for a, b in zip(r["texts"], peer["texts"], strict=True))
    for r in rows:
        del r["texts"]
    rows += _startup(python, model, onmt_model, src[0], pieces, work)
    report("peers", [{"model": model, "split": split, **r} for r in rows],
           ["toolkit", "weights", "search", "batch", "decode_s", "x_decode", "whole_s", "x_whole", "rss_mb",
            "rows_x_steps", "bleu", "same_as_onmt", "differs_by_batch"])


def _onmt_rows(python, onmt_model, pieces, work, batches, base, refs) -> list[dict]:
    runs = [f"{beam}:{batch}" for beam in SEARCHES for batch in batches]
    with open(work / "onmt.log", "w") as log:  # OpenNMT-py's own log lines and warnings
        out = subprocess.run([str(python), str(PEERS / "onmt_decode.py"), str(onmt_model), str(pieces),
                              str(work / "onmt"), str(REPEATS), *runs], check=True, text=True,
                             stdout=subprocess.PIPE, stderr=log, env={**os.environ, **ONMT_ENV}).stdout
    rows = []
    for line in out.splitlines():
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        hyps = _onmt_texts(work / f"onmt.{r['beam']}.{r['batch']}", base)
        row = {"toolkit": "OpenNMT-py", "weights": "fp32", "search": _search(r["beam"]), "batch": r["batch"],
               "decode_s": r["seconds"], "rows_x_steps": r["rows"], "bleu": corpus_bleu(hyps, refs),
               "texts": hyps}
        if r["batch"] != 1:
            row["whole_s"], row["rss_mb"] = run_command(
                [str(python.parent / "onmt_translate"), "-model", str(onmt_model), "-src", str(pieces),
                 "-output", str(work / "onmt.whole"), "-beam_size", str(r["beam"]), "-batch_size",
                 str(r["batch"]), "-length_penalty", "wu", "-alpha", "1.0", "-max_length_ratio", "1.5",
                 "-log_file", "/dev/null"], env=ONMT_ENV, log=work / "onmt.log")
        rows.append(row)
    return rows


def _nmt_rows(model, src, refs, batches) -> list[dict]:
    rows = []
    for name, (load, flags) in OPTIONS.items():
        translator = Translator.load(model, device="cpu", **load)
        counts = _count_rows(translator)
        by_batch = {}
        for beam in SEARCHES:
            for batch in batches:
                if batch == 1 and name not in AT_BATCH_1:
                    continue
                times = []
                for _ in range(REPEATS):
                    counts["rows"] = 0
                    start = time.perf_counter()
                    out = [nbest[0] for nbest in translator.translate_stream(
                        src, DecodeConfig(beam=beam, max_sentences=batch))]
                    times.append(time.perf_counter() - start)
                seconds = min(times)
                texts = [t for t, _ in out]
                by_batch[(beam, batch)] = texts
                row = {"toolkit": "nmt", "weights": name, "search": _search(beam), "batch": batch,
                       "decode_s": seconds, "rows_x_steps": counts["rows"], "bleu": corpus_bleu(texts, refs),
                       "texts": texts}
                if batch != 1:
                    row["whole_s"], row["rss_mb"] = run_command(
                        [sys.executable, "-m", "nmt", "translate", "--model", model, "--input",
                         str(DATA / "test2016.de"), "--output", "/dev/null", "--beam", str(beam),
                         "--batch-size", str(batch), *flags])
                rows.append(row)
        for row in rows[-len(by_batch):]:  # lines that differ from the same option's output at batch 64
            beam = 1 if row["search"] == "greedy" else 5
            row["differs_by_batch"] = sum(a != b for a, b in zip(by_batch[(beam, row["batch"])],
                                                                 by_batch[(beam, 64)], strict=True))
    return rows


def _count_rows(translator: Translator) -> dict:
    """Count the rows each search step multiplies, by wrapping the translator's step functions."""
    counts, stepper = {"rows": 0}, translator.stepper

    def counted(vocab):
        step = stepper(vocab)

        def step_and_count(tokens, states):
            counts["rows"] += tokens.numel()
            return step(tokens, states)
        return step_and_count
    translator.stepper = counted
    return counts


def _startup(python, model, onmt_model, first_line, pieces, work) -> list[dict]:
    """Whole command, one input line: start-up to the first output line."""
    one, one_pieces = work / "one.de", work / "one.pieces"
    one.write_text(first_line + "\n")
    one_pieces.write_text(pieces.read_text().splitlines()[0] + "\n")
    ours, ours_rss = run_command([sys.executable, "-m", "nmt", "translate", "--model", model, "--input",
                                  str(one), "--output", "/dev/null"])
    theirs, theirs_rss = run_command([str(python.parent / "onmt_translate"), "-model", str(onmt_model),
                                      "-src", str(one_pieces), "-output", str(work / "one.out"),
                                      "-log_file", "/dev/null"], env=ONMT_ENV, log=work / "onmt.log")
    torch_import, _ = run_command([sys.executable, "-c", "import torch"])
    return [{"toolkit": "nmt", "weights": "fp32", "search": "one line", "whole_s": ours, "rss_mb": ours_rss},
            {"toolkit": "OpenNMT-py", "weights": "fp32", "search": "one line", "whole_s": theirs,
             "rss_mb": theirs_rss},
            {"toolkit": "python", "weights": "", "search": "import torch", "whole_s": torch_import}]


def _onmt_texts(path: Path, base: Translator) -> list[str]:
    sp = base.tgt_tok.sp
    return [sp.decode_pieces(line.split()) for line in path.read_text().splitlines()]


def _search(beam: int) -> str:
    return "greedy" if beam == 1 else f"beam {beam}"
