"""`nmt plot`: training curves from run folders' metrics.jsonl, several runs overlaid; or, with
--by-length, BLEU by source length for several hypothesis files (by_length).

Three panels against update steps (or wall-clock minutes since the run's first record): the training
loss, the validation perplexity and the validation BLEU (with several validation sets, their mean as a
solid line and each set's dashed or dotted in the same colour). With the sampled softmax the training loss is
the sampled loss, far below the full cross-entropy; its panel says so, and validation (always the
full softmax) is the one to compare runs by.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from nmt import NMTError
from nmt.fileio import atomic_path

FORMATS = ("png", "svg", "pdf")
SET_STYLES = ("--", ":", "-.", (0, (5, 1)), (0, (1, 3)))  # one line style per validation set


def read_metrics(run: Path) -> dict[str, list[dict]]:
    """{"train": [...], "valid": [...]} records, by step; a step logged twice (a resumed run redid it)
    keeps its last record."""
    path = run / "metrics.jsonl"
    if not path.is_file():
        raise NMTError(f"{run}: no metrics.jsonl; give run folders made by `nmt train`")
    records: dict[str, dict[int, dict]] = {"train": {}, "valid": {}}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise NMTError(f"{path}:{number}: not a JSON line; the file is damaged") from None
        if record.get("type") in records:
            records[record["type"]][record["step"]] = record
    return {kind: [by_step[s] for s in sorted(by_step)] for kind, by_step in records.items()}


def training_loss_kind(run: Path) -> str:
    """"sampled" or "full": what the run's training loss is, from its train.log (else its config)."""
    log = run / "train.log"
    if log.is_file():
        found = re.findall(r"loss (sampled|full)", log.read_text(encoding="utf-8", errors="replace"))
        if found:
            return found[-1]
    config = run / "config.yaml"
    if config.is_file() and re.search(r"^\s*loss: full\s*$", config.read_text(encoding="utf-8"), re.M):
        return "full"
    return "sampled"


def plot(runs: list[Path], out: Path, *, x: str = "steps"):
    """Draw the curves of `runs` into `out` (PNG, SVG or PDF by its extension); returns the figure."""
    from matplotlib.figure import Figure  # no pyplot: no display or GUI backend needed

    if x not in ("steps", "minutes"):
        raise NMTError(f"--x takes steps or minutes, got {x!r}")
    kind = _format(out)
    names = [run.name or str(run) for run in runs]
    if len(set(names)) < len(names):  # same folder names in different places: tell them apart
        names = [str(run) for run in runs]
    fig = Figure(figsize=(13, 4), layout="constrained")
    loss_ax, ppl_ax, bleu_ax = fig.subplots(1, 3)
    kinds = set()
    for run, name in zip(runs, names, strict=True):
        metrics = read_metrics(run)
        kinds.add(training_loss_kind(run))
        start = min((r["time"] for r in metrics["train"] + metrics["valid"]), default=0.0)
        xs = {k: [_x(r, x, start) for r in v] for k, v in metrics.items()}
        line, = loss_ax.plot(xs["train"], [r["loss"] for r in metrics["train"]], label=name)
        sets = valid_set_names(metrics["valid"])
        for ax, key in ((ppl_ax, "ppl"), (bleu_ax, "bleu")):
            ax.plot(xs["valid"], [r[key] for r in metrics["valid"]], marker=".", color=line.get_color(),
                    label=f"{name}: mean of {len(sets)} sets" if sets else None)
            for style, valid_set in zip(SET_STYLES, sets, strict=False):
                kept = [(x_value, r["sets"][valid_set][key])
                        for x_value, r in zip(xs["valid"], metrics["valid"], strict=True)
                        if valid_set in r.get("sets", {})]
                ax.plot(*zip(*kept, strict=True), linestyle=style, color=line.get_color(),
                        label=f"{name}: {valid_set}")
    loss_ax.set_title("training loss (" + " / ".join(f"{k} softmax" for k in sorted(kinds)) + ")")
    ppl_ax.set_title("validation perplexity (full softmax)")
    bleu_ax.set_title("validation BLEU (greedy)")
    for ax in (loss_ax, ppl_ax, bleu_ax):
        ax.set_xlabel("update steps" if x == "steps" else "minutes since the run's first record")
        ax.grid(alpha=0.3)
    loss_ax.legend()
    if bleu_ax.get_legend_handles_labels()[0]:  # several validation sets: say which line is which
        bleu_ax.legend(fontsize="small")
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format=kind, dpi=100)
    return fig


def valid_set_names(records: list[dict]) -> list[str]:
    """The names of a run's validation sets when it has several (each drawn beside their mean), else []."""
    names = {name: None for r in records for name in r.get("sets", {})}
    return list(names) if len(names) > 1 else []


def _x(record: dict, x: str, start: float) -> float:
    return record["step"] if x == "steps" else (record["time"] - start) / 60


def _format(out: Path) -> str:
    kind = out.suffix.lower().lstrip(".")
    if kind not in FORMATS:
        raise NMTError(f"{out}: give a file name ending in {', '.join('.' + f for f in FORMATS)}")
    return kind


def by_length(tables: dict[str, list[dict]], out: Path, *, title: str = ""):
    """BLEU (and chrF, where scored) against source length, a line per hypothesis file: `tables` maps
    a label to evaluate.by_length's rows. The figure of Sutskever et al. 2014 and Bahdanau et al. 2015."""
    from matplotlib.figure import Figure

    kind = _format(out)
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    for label, rows in tables.items():
        ax.plot([r["bucket"] for r in rows], [r["bleu"] for r in rows], marker="o", label=label)
    ax.set_xlabel("source length (words)")
    ax.set_ylabel("BLEU")
    ax.set_title(title or "BLEU by source length")
    ax.grid(alpha=0.3)
    ax.legend()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format=kind, dpi=100)
    return fig
