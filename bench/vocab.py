"""Sampled vs full softmax as the target vocabulary grows: 8k, 32k and 64k.

8k is the shipped English unigram vocabulary. Multi30k English alone has too few distinct words for
more, so 32k and 64k are word-level sentencepiece vocabularies trained jointly on the German, English,
French and Czech training text: the output layer a multilingual system would carry. The source side
stays the 8k German vocabulary.

    python -m bench vocab                speed: target tokens/s, full vs sampled (1,024), each vocabulary
    python -m bench vocab-bleu [STEPS]   quality: test2016 BLEU after STEPS updates, full vs sampled, 32k

Needs data/multi30k/train.{fr,cs}: nmt data multi30k --out data/multi30k --src fr --tgt cs
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from bench.common import DATA, ROOT, WORK, report, require_data
from bench.train_speed import load_batches, nmt_speed
from nmt.config import load
from nmt.text.tokenizer import train_model

CONFIG = "configs/multi30k-de-en.yaml"
LANGS = ("de", "en", "fr", "cs")


def tokenizers(size: int) -> Path:
    """A tokenizer folder with the 8k German source model and a `size` target model."""
    base = WORK / "tok8000"
    if size == 8000:
        return base
    folder = WORK / f"tok-joint-word{size // 1000}k"
    if not (folder / "tgt.model").exists():
        missing = [lang for lang in LANGS if not (DATA / f"train.{lang}").is_file()]
        if missing:
            raise SystemExit(f"needs data/multi30k/train.{{{','.join(missing)}}}: "
                             "nmt data multi30k --out data/multi30k --src fr --tgt cs")
        if not (base / "src.model").exists():
            load_batches(load(ROOT / CONFIG), base, WORK / "prepared8000", 1)  # trains the 8k pair
        folder.mkdir(parents=True, exist_ok=True)
        model = train_model([DATA / f"train.{lang}" for lang in LANGS], size, "word", 200_000, seed=1)
        (folder / "tgt.model").write_bytes(model)
        shutil.copy(base / "src.model", folder / "src.model")
    return folder


def speed(steps: int = 20, warmup: int = 3) -> None:
    require_data()
    cfg = load(ROOT / CONFIG)
    rows = []
    for size in (8000, 32000, 64000):
        tok = tokenizers(size)
        batches, vocab, counts = load_batches(cfg, tok, WORK / f"prepared-{tok.name}", warmup + steps)
        full, sampled = (nmt_speed(cfg, batches, vocab, loss=loss, dtype="fp32", counts=counts,
                                   warmup=warmup)[0] for loss in ("full", "sampled"))
        rows.append({"vocab": vocab[1], "tokenizer": tok.name, "full_tok_per_s": full,
                     f"sampled{cfg.train.num_sampled}_tok_per_s": sampled, "speed_up": sampled / full})
    report("vocab_speed", rows, ["vocab", "tokenizer", "full_tok_per_s",
                                 f"sampled{cfg.train.num_sampled}_tok_per_s", "speed_up"])


def bleu(steps: int = 500, size: int = 32000) -> None:
    """Train the shipped config for `steps` updates with each loss, then test2016 BLEU (greedy, beam 5)."""
    require_data()
    tok = tokenizers(size)
    rows = []
    for loss in ("full", "sampled"):
        run = WORK / f"vocab{size // 1000}k-{loss}-{steps}"
        shutil.rmtree(run, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "nmt", "train", "--config", CONFIG, "--out", str(run),
                        "--tokenizers", str(tok), "--max-steps", str(steps), "--set", f"train.loss={loss}",
                        "--train-src", str(DATA / "train.de"), "--train-tgt", str(DATA / "train.en"),
                        "--valid-src", str(DATA / "val.de"), "--valid-tgt", str(DATA / "val.en")],
                       check=True, cwd=ROOT)
        row = {"vocab": size, "loss": loss, "steps": steps}
        for beam in (1, 5):
            out = subprocess.run([sys.executable, "-m", "nmt", "evaluate", "--model", str(run / "last.pt"),
                                  "--src", str(DATA / "test2016.de"), "--ref", str(DATA / "test2016.en"),
                                  "--beam", str(beam), "--metrics", "bleu", "--json"],
                                 check=True, cwd=ROOT, capture_output=True, text=True)
            row["bleu_greedy" if beam == 1 else "bleu_beam5"] = json.loads(out.stdout)["score"]
        rows.append(row)
    report("vocab_bleu", rows, ["vocab", "loss", "steps", "bleu_greedy", "bleu_beam5"])


if __name__ == "__main__":
    speed()
