"""The design choices of the model, each measured on its own: `python -m bench ablate [MINUTES] [ROW ...]`.

Every row trains the small config (configs/multi30k-de-en-small.yaml, 1x256 LSTM) with one change, on
the same data, seed and wall-clock budget (`nmt train --max-minutes MINUTES`, default 10), then reports:
the validation perplexity of best.pt, test2016 BLEU with greedy search and beam 5, training target
tokens/s (mean of the run's log lines) and decoding sentences/s (beam 5, batch 128, load excluded).
Rows run one after another; each is appended to bench/results/ablate.jsonl as it finishes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

from bench.common import DATA, ROOT, WORK, report, require_data
from nmt.config import DecodeConfig
from nmt.evaluate import corpus_bleu
from nmt.fileio import read_lines
from nmt.translate import Translator

CONFIG = "configs/multi30k-de-en-small.yaml"
BIDIRECTIONAL = ["model.bidirectional=true", "model.reverse_source=false"]
ROWS = {  # name -> --set overrides of the small config
    "reversed source (the shipped model)": [],
    "source read forward": ["model.reverse_source=false"],
    "bidirectional encoder": BIDIRECTIONAL,
    "GRU instead of LSTM": ["model.cell=gru"],
    "full softmax instead of sampled": ["train.loss=full"],
    **{f"bidirectional + {kind} attention{' + input feeding' if feed else ''}":
       [*BIDIRECTIONAL, f"model.attention={kind}", f"model.input_feeding={str(feed).lower()}"]
       for kind in ("dot", "general", "additive") for feed in (False, True)},
    # The seed's reversed input with attention (Luong et al. 2015 reversed the source of their attention
    # models too): a unidirectional encoder reading backwards, against the same encoder reading forwards.
    **{f"reversed source + {kind} attention": [f"model.attention={kind}"]
       for kind in ("dot", "general", "additive")},
    "source read forward + dot attention": ["model.reverse_source=false", "model.attention=dot"],
}


def run_row(name: str, overrides: list[str], minutes: float) -> dict:
    out = WORK / ("ablate-" + "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-"))
    shutil.rmtree(out, ignore_errors=True)
    data = ["--train-src", DATA / "train.de", "--train-tgt", DATA / "train.en",
            "--valid-src", DATA / "val.de", "--valid-tgt", DATA / "val.en"]
    sets = [a for o in overrides for a in ("--set", o)]
    command = [sys.executable, "-m", "nmt", "train", "--config", CONFIG, "--out", out, "--max-minutes",
               minutes, "--tokenizers", WORK / "tok-small", *data, *sets]
    subprocess.run([str(a) for a in command], check=True, cwd=ROOT)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["type"] == "train"]
    valid = [r for r in records if r["type"] == "valid"]
    best = min(valid, key=lambda r: r["ppl"])
    translator = Translator.load(out / "best.pt", device="cpu")
    src, refs = list(read_lines(DATA / "test2016.de")), list(read_lines(DATA / "test2016.en"))
    row = {"row": name, "minutes": minutes, "steps": valid[-1]["step"], "valid_ppl": best["ppl"],
           "tok_per_s": sum(r["tok_per_s"] for r in train[1:]) / max(1, len(train) - 1)}
    for beam in (1, 5):
        start = time.perf_counter()
        hyps = [nbest[0][0] for nbest in translator.translate_stream(src, DecodeConfig(beam=beam))]
        seconds = time.perf_counter() - start
        key = "greedy" if beam == 1 else "beam5"
        row[f"bleu_{key}"] = corpus_bleu(hyps, refs)
        row[f"{key}_sent_per_s"] = len(src) / seconds
    report("ablate", [row], COLUMNS)
    return row


COLUMNS = ["row", "minutes", "steps", "valid_ppl", "bleu_greedy", "bleu_beam5", "tok_per_s",
           "greedy_sent_per_s", "beam5_sent_per_s"]


def main(minutes: float = 10, *names: str) -> None:
    require_data()
    tokenizers = WORK / "tok-small"
    if not (tokenizers / "src.model").exists():  # one pair of tokenizers for every row, as the config asks
        subprocess.run([sys.executable, "-m", "nmt", "train-tokenizer", "--src", str(DATA / "train.de"),
                        "--tgt", str(DATA / "train.en"), "--out", str(tokenizers), "--vocab-size", "4000"],
                       check=True, cwd=ROOT)
    unknown = [n for n in names if n not in ROWS]
    if unknown:
        raise SystemExit(f"unknown rows {unknown}; choose from {list(ROWS)}")
    rows = [run_row(name, ROWS[name], minutes) for name in (names or ROWS)]
    report("ablate_summary", rows, COLUMNS)


if __name__ == "__main__":
    main(*(float(a) if i == 0 else a for i, a in enumerate(sys.argv[1:])))
