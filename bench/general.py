"""The general models: everyday sentences (Tatoeba) and captions (Multi30k) in one training, scored on
the three test sets a user of them meets: Multi30k test2016 (captions), the Tatoeba test of `nmt data
tatoeba` (everyday sentences, held out without leaks) and WMT newstest2014 (news, out of domain).

    python -m bench general screen MINUTES [ROW ...]          the de-en config with one change per row,
                                                              scored on the validation sets only
    python -m bench general budget MINUTES CONFIG [K=V ...]   train MINUTES, then the three tests, once
    python -m bench general converge CONFIG [MAX_MINUTES] [K=V ...]  go on from that budget run until
                                                              early stopping: best.pt, last.pt, average
    python -m bench general splits MINUTES                    the Tatoeba test split plainly (exact
                                                              matches) and without near-paraphrases
    python -m bench general pairs MINUTES                     de-en, en-de, fr-en, en-fr (also
                                                              `python -m bench pairs MINUTES general`)

Data comes from `nmt data` (mirrors in ../shared/data where they exist) into data/: multi30k (de-en),
multi30k-fr-en, tatoeba-SRC-TGT (split for that direction: the source must have 5 words), news-XX-en.
Every test is decoded with beam 5 (sacreBLEU's default BLEU, and chrF). Results go to
bench/results/general*.jsonl.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from bench.common import ROOT, WORK, evaluate, report, run_command
from bench.converge import trained_minutes
from nmt.config import load
from nmt.corpora import languages_of

CONFIGS = {"de": "configs/general-de-en.yaml", "fr": "configs/general-fr-en.yaml"}
DATA = ROOT / "data"
SCREEN = {  # name -> --set overrides of configs/general-de-en.yaml
    "general-de-en (shipped)": [],
    "Multi30k as concatenated (temperature 1)": ["data.temperature=1"],
    "Multi30k 1 : Tatoeba 2": ["data.corpora=" + json.dumps([
        {"name": "multi30k", "src": "data/multi30k/train.de", "tgt": "data/multi30k/train.en", "weight": 1},
        {"name": "tatoeba", "src": "data/tatoeba-de-en/train.de", "tgt": "data/tatoeba-de-en/train.en",
         "weight": 2}])],
    "Multi30k 1 : Tatoeba 3": ["data.corpora=" + json.dumps([
        {"name": "multi30k", "src": "data/multi30k/train.de", "tgt": "data/multi30k/train.en", "weight": 1},
        {"name": "tatoeba", "src": "data/tatoeba-de-en/train.de", "tgt": "data/tatoeba-de-en/train.en",
         "weight": 3}])],
    "vocabulary 16k": ["data.vocab_size=16000"],
    "hidden 768, 1 : 2": [],  # filled below: the weights of "Multi30k 1 : Tatoeba 2" with a wider model
    "dropout 0.2, 1 : 3": [],  # filled below: the weights of "Multi30k 1 : Tatoeba 3", dropout 0.2
    "joint vocabulary 16k": ["data.vocab_size=16000", "data.joint=true"],
    "hidden 768": ["model.hidden=768"],
    "2 layers": ["model.layers=2"],
    "dropout 0.2": ["model.dropout=0.2"],
    "no label smoothing": ["train.label_smoothing=0"],
}
SCREEN["hidden 768, 1 : 2"] = [*SCREEN["Multi30k 1 : Tatoeba 2"], "model.hidden=768"]
SCREEN["dropout 0.2, 1 : 3"] = [*SCREEN["Multi30k 1 : Tatoeba 3"], "model.dropout=0.2"]
for _name in ("Multi30k 1 : Tatoeba 2", "Multi30k 1 : Tatoeba 3"):  # a second seed where rows are close
    SCREEN[f"{_name}, seed 2"] = [*SCREEN[_name], "train.seed=2"]


def _nmt(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "nmt", *map(str, args)], check=True, cwd=ROOT, capture_output=True)


def _mirror(corpus: str) -> list[str]:
    folder = ROOT.parent / "shared" / "data" / corpus
    return ["--mirror", str(folder)] if folder.is_dir() else []


def multi30k_folder(other: str) -> Path:
    return DATA / ("multi30k" if other == "de" else f"multi30k-{other}-en")


def ensure_data(src: str, tgt: str) -> None:
    """data/ for the direction src -> tgt (one of them English): Multi30k, its Tatoeba split, newstest2014."""
    other = src if tgt == "en" else tgt
    if not (multi30k_folder(other) / "train.en").is_file():
        _nmt("data", "multi30k", "--out", multi30k_folder(other), "--src", other, "--tgt", "en",
             *_mirror("multi30k"))
    if not (DATA / f"tatoeba-{src}-{tgt}" / "test.en").is_file():
        _nmt("data", "tatoeba", "--pair", f"{src}-{tgt}", "--out", DATA / f"tatoeba-{src}-{tgt}",
             *_mirror("tatoeba"))
    if not (DATA / f"news-{other}-en" / "newstest2014.en").is_file():
        _nmt("data", "news", "--pair", f"{other}-en", "--out", DATA / f"news-{other}-en", *_mirror("news"))


def tests(src: str, tgt: str) -> dict[str, tuple[Path, Path]]:
    """The three test sets of a direction: name -> (source file, reference file)."""
    other = src if tgt == "en" else tgt
    folders = {"test2016": (multi30k_folder(other), "test2016"),
               "tatoeba": (DATA / f"tatoeba-{src}-{tgt}", "test"),
               "newstest2014": (DATA / f"news-{other}-en", "newstest2014")}
    return {name: (folder / f"{stem}.{src}", folder / f"{stem}.{tgt}")
            for name, (folder, stem) in folders.items()}


def direction(src: str, tgt: str) -> tuple[str, list[str]]:
    """The config of a direction and the --set overrides that point it at that direction's files: the
    shipped XX-en config as it is, or for en-XX its corpora and validation sets the other way round."""
    other = src if tgt == "en" else tgt
    config = CONFIGS[other]
    if tgt != "en":
        flipped = {}
        for key in ("corpora", "valid"):
            entries = getattr(load(ROOT / config).data, key)
            flipped[key] = [{**e, "src": e["tgt"], "tgt": e["src"]} for e in entries]
            for e in flipped[key]:  # the Tatoeba split of this direction
                for side in ("src", "tgt"):
                    e[side] = e[side].replace(f"tatoeba-{other}-en", f"tatoeba-en-{other}")
        return config, [f"data.{key}={json.dumps(value)}" for key, value in flipped.items()]
    return config, []


def _suffix(overrides) -> str:
    return "-" + _slug("-".join(overrides)) if overrides else ""


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")[:90]


def train(config: str, out: Path, minutes: float, overrides: list[str], resume: bool = False) -> float:
    """`nmt train` as a user runs it; the wall-clock minutes it took."""
    command = ["--resume", str(out)] if resume else ["--config", config, "--out", str(out)]
    seconds, _ = run_command([sys.executable, "-m", "nmt", "train", *command, "--max-minutes",
                              f"{minutes:.2f}", *(a for o in overrides for a in ("--set", o))],
                             log=out.with_suffix(".log"))
    return seconds / 60


def _valid_records(run: Path) -> list[dict]:
    records = map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
    return [r for r in records if r["type"] == "valid"]


def score(models: list[Path], sets: dict[str, tuple[Path, Path]], beam: int = 5) -> dict:
    """{set name: {"bleu", "chrf"}} of `models` (several: an ensemble)."""
    return {name: evaluate(models, src, ref, beam=beam, metrics="bleu,chrf")
            for name, (src, ref) in sets.items()}


def screen(minutes: float = 10, *names: str) -> None:
    ensure_data("de", "en")
    unknown = [n for n in names if n not in SCREEN]
    if unknown:
        raise SystemExit(f"unknown rows {unknown}; choose from {list(SCREEN)}")
    config = load(ROOT / CONFIGS["de"])
    valid = {v["name"]: (ROOT / v["src"], ROOT / v["tgt"]) for v in config.data.valid}
    for name in names or SCREEN:
        out = WORK / "general-screen" / _slug(name)
        shutil.rmtree(out, ignore_errors=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        train(CONFIGS["de"], out, minutes, SCREEN[name])
        records = _valid_records(out)
        scores = score([out / "best.pt"], valid)
        row = {"row": name, "overrides": SCREEN[name], "minutes": minutes, "steps": records[-1]["step"],
               "best_valid_greedy_bleu": max(r["bleu"] for r in records),
               **{f"{k}_val_bleu": v["bleu"] for k, v in scores.items()},
               "mean_val_bleu": sum(v["bleu"] for v in scores.values()) / len(scores)}
        report("general_screen", [row], ["row", "minutes", "steps", "best_valid_greedy_bleu",
                                          *(f"{k}_val_bleu" for k in scores), "mean_val_bleu"])


def budget(minutes: float = 30, config: str = CONFIGS["de"], *overrides: str, pair: str = "") -> dict:
    """Train `config` for `minutes`, then score best.pt on the three tests of `pair` (default: the language
    pair the config's corpora say)."""
    pair = pair or "-".join(languages_of(load(ROOT / config)))
    src, tgt = pair.split("-")
    ensure_data(src, tgt)
    out = WORK / f"general-{pair}-{Path(config).stem}-{minutes:g}min{_suffix(overrides)}"
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    wall = train(config, out, minutes, list(overrides))
    records = _valid_records(out)
    row = {"pair": pair, "config": config, "overrides": " ".join(overrides), "budget_min": minutes,
           "wall_min": wall, "steps": records[-1]["step"], "run": str(out.relative_to(ROOT)),
           **_flat(score([out / "best.pt"], tests(src, tgt)))}
    report("general", [row], ["pair", "config", "overrides", "budget_min", "steps", *_test_columns()])
    return row


def converge(config: str = CONFIGS["de"], max_minutes: float = 90, *overrides: str) -> None:
    """Go on from `budget 30 CONFIG`'s run (copied) until early stopping or MAX_MINUTES of training in all."""
    ensure_data("de", "en")
    stem = Path(config).stem
    start = WORK / f"general-de-en-{stem}-30min{_suffix(overrides)}"
    run = WORK / f"general-converge-{stem}"
    shutil.rmtree(run, ignore_errors=True)
    if (start / "last.pt").is_file():
        shutil.copytree(start, run)
        left = max_minutes - trained_minutes(run)
        if left > 0:
            train(config, run, left, [], resume=True)
    else:
        train(config, run, max_minutes, list(overrides))
    steps = sorted(run.glob("step_*.pt"), key=lambda p: int(p.stem.split("_")[1]))
    _nmt("average", *steps, "--out", run / "avg.pt")
    log = (run / "train.log").read_text()
    stopped = log.rsplit("stopped: ", 1)[1].split(" at step")[0]
    rows = [{"config": config, "train_min": trained_minutes(run), "stopped": stopped,
             "steps": _valid_records(run)[-1]["step"], "checkpoint": name,
             **_flat(score([run / file], tests("de", "en")))}
            for name, file in (("best.pt", "best.pt"), ("last.pt", "last.pt"),
                               (f"average of {len(steps)} step checkpoints", "avg.pt"))]
    report("general_converge", rows, ["config", "train_min", "stopped", "steps", "checkpoint",
                                      *_test_columns()])


def splits(minutes: float = 15) -> None:
    """The same config trained on Tatoeba split plainly (--match exact) and without near-paraphrases (--match
    near, the default), each scored on both tests: how much a plain split flatters a model."""
    ensure_data("de", "en")
    folders = {match: DATA / f"tatoeba-de-en-{match}" for match in ("exact", "near")}
    for match, folder in folders.items():
        if not (folder / "test.en").is_file():
            _nmt("data", "tatoeba", "--pair", "de-en", "--out", folder, "--match", match, *_mirror("tatoeba"))
    sets = {f"tatoeba test ({match} split)": (folder / "test.de", folder / "test.en")
            for match, folder in folders.items()}
    rows = []
    for match, folder in folders.items():
        corpora = json.loads(json.dumps(load(ROOT / CONFIGS["de"]).data.corpora).replace(
            "data/tatoeba-de-en/", f"{folder.relative_to(ROOT)}/"))
        valid = json.loads(json.dumps(load(ROOT / CONFIGS["de"]).data.valid).replace(
            "data/tatoeba-de-en/", f"{folder.relative_to(ROOT)}/"))
        out = WORK / f"general-split-{match}-{minutes:g}min"
        shutil.rmtree(out, ignore_errors=True)
        train(CONFIGS["de"], out, minutes, [f"data.corpora={json.dumps(corpora)}",
                                            f"data.valid={json.dumps(valid)}"])
        pairs = (folder / "train.de").read_text(encoding="utf-8").count("\n")
        for name, result in score([out / "best.pt"], sets).items():
            rows.append({"trained_on": f"{match} split ({pairs} Tatoeba pairs)", "minutes": minutes,
                         "steps": _valid_records(out)[-1]["step"], "test": name, **result})
    report("general_splits", rows, ["trained_on", "minutes", "steps", "test", "bleu", "chrf"])


def pairs(minutes: float = 30) -> None:
    for pair in ("de-en", "en-de", "fr-en", "en-fr"):
        src, tgt = pair.split("-")
        ensure_data(src, tgt)
        config, overrides = direction(src, tgt)
        budget(minutes, config, *overrides, pair=pair)


def _flat(scores: dict) -> dict:
    return {f"{name}_{metric}": value for name, result in scores.items() for metric, value in result.items()}


def _test_columns() -> list[str]:
    return [f"{name}_{metric}" for name in ("test2016", "tatoeba", "newstest2014")
            for metric in ("bleu", "chrf")]


def main(what: str = "", *rest: str) -> None:
    commands = {"screen": lambda: screen(*_minutes(rest)), "budget": lambda: budget(*_minutes(rest)),
                "converge": lambda: converge(*(float(a) if i == 1 else a for i, a in enumerate(rest))),
                "splits": lambda: splits(*map(float, rest[:1])),
                "pairs": lambda: pairs(*map(float, rest[:1]))}
    if what not in commands:
        raise SystemExit(__doc__)
    commands[what]()


def _minutes(rest: tuple[str, ...]) -> list:
    return [float(a) if i == 0 else a for i, a in enumerate(rest)]
