"""Recipes for the attention model, chosen on validation only: `python -m bench recipes [MINUTES [ROW ...]]`.

Every row trains configs/multi30k-de-en-attention.yaml as it was before these rows chose its recipe (general
attention, untied embeddings, no label smoothing) with one change (`--set` overrides; the last rows put the
changes that helped together), seed 1, for MINUTES (default 5) on Multi30k de->en, as a user would
(tokenizers trained by `nmt train`), then scores best.pt on val with beam 5. Only val is read here: the
recipe chosen from these rows is measured on test2016 once, by `python -m bench budget MINUTES auto CONFIG`
beside the shipped config. Rows are appended to bench/results/recipes.jsonl as they finish.
"""

from __future__ import annotations

import json
import shutil
import sys

from bench.common import DATA, WORK, evaluate, report, require_data, run_command

CONFIG = "configs/multi30k-de-en-attention.yaml"
# The rows start from the attention config as it was before these rows chose its recipe: general
# attention, untied embeddings, no label smoothing.
BEFORE = ["model.attention=general", "model.tie_embeddings=false", "train.label_smoothing=0"]
DOT_LS = ["model.attention=dot", "train.label_smoothing=0.1"]
ROWS = {  # name -> --set overrides of BEFORE
    "attention config (shipped)": [],  # as shipped before: BEFORE alone
    "label smoothing 0.1": ["train.label_smoothing=0.1"],
    "dropout 0.4": ["model.dropout=0.4"],
    "tied embeddings": ["model.tie_embeddings=true"],
    "dot attention": ["model.attention=dot"],
    "joint vocabulary": ["data.joint=true"],
    "reversed source + general attention": ["model.bidirectional=false", "model.reverse_source=true"],
    "lr warm-up 500 steps": ["train.warmup_steps=500"],
    "subword sampling (4 variants, alpha 0.5)": ["data.sampling_variants=4"],
    "subword sampling (4 variants, alpha 0.2)": ["data.sampling_variants=4", "data.sampling_alpha=0.2"],
    # the single changes that helped, together
    "dot + label smoothing": [*DOT_LS],
    "dot + label smoothing + tied": [*DOT_LS, "model.tie_embeddings=true"],
    "dot + label smoothing + subword sampling": [*DOT_LS, "data.sampling_variants=4"],
}
COLUMNS = ["row", "minutes", "steps", "best_valid_greedy_bleu", "val_beam5_bleu", "val_beam5_chrf"]


def run_row(name: str, overrides: list[str], minutes: float) -> dict:
    out = WORK / "recipes" / "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
    shutil.rmtree(out, ignore_errors=True)
    sets = [a for o in (*BEFORE, *overrides) for a in ("--set", o)]
    run_command([sys.executable, "-m", "nmt", "train", "--config", CONFIG, "--out", str(out),
                 "--train-src", str(DATA / "train.de"), "--train-tgt", str(DATA / "train.en"),
                 "--valid-src", str(DATA / "val.de"), "--valid-tgt", str(DATA / "val.en"),
                 "--max-minutes", str(minutes), *sets], log=out.with_suffix(".log"))
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    valid = [r for r in records if r["type"] == "valid"]
    score = evaluate([out / "best.pt"], DATA / "val.de", DATA / "val.en", metrics="bleu,chrf")
    row = {"row": name, "overrides": overrides, "minutes": minutes, "steps": max(r["step"] for r in records),
           "best_valid_greedy_bleu": max(v["bleu"] for v in valid), "val_beam5_bleu": score["bleu"],
           "val_beam5_chrf": score["chrf"]}
    report("recipes", [row], COLUMNS)
    return row


def main(minutes: float = 5, *names: str) -> None:
    require_data()
    unknown = [n for n in names if n not in ROWS]
    if unknown:
        raise SystemExit(f"unknown rows {unknown}; choose from {list(ROWS)}")
    (WORK / "recipes").mkdir(parents=True, exist_ok=True)
    rows = [run_row(name, ROWS[name], minutes) for name in (names or ROWS)]
    report("recipes_summary", rows, COLUMNS)
