"""How long `prepare` takes and how much memory it uses, on Multi30k and on 3 million pairs.

Each measurement runs in a fresh process, so its peak RSS is its own. The big corpus is Multi30k
repeated (104 x 29,000 = 3,016,000 pairs), written once under bench/work/ (git-ignored).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from bench.common import DATA, ROOT, WORK, report, require_data


def _repeat(times: int) -> tuple[Path, Path]:
    WORK.mkdir(parents=True, exist_ok=True)
    paths = []
    for lang in ("de", "en"):
        path = WORK / f"train.x{times}.{lang}"
        if not path.exists():
            text = (DATA / f"train.{lang}").read_bytes()
            with open(path, "wb") as f:
                for _ in range(times):
                    f.write(text)
        paths.append(path)
    return paths[0], paths[1]


def bench_tokenizers() -> Path:
    """8k unigram tokenizers trained on Multi30k once, shared by the benchmarks."""
    tok = WORK / "tok"
    if not (tok / "src.model").exists():
        from nmt.text.tokenizer import train_tokenizers
        train_tokenizers(DATA / "train.de", DATA / "train.en", tok, vocab_size=8000)
    return tok


def main(sizes: list[int] | None = None) -> None:
    require_data()
    tok = bench_tokenizers()
    rows = []
    for times in sizes or [1, 10, 104]:
        src, tgt = (DATA / "train.de", DATA / "train.en") if times == 1 else _repeat(times)
        out = WORK / f"prepared.x{times}"
        shutil.rmtree(out, ignore_errors=True)
        result = subprocess.run([sys.executable, "-m", "bench.children.prepare", str(src), str(tgt), str(tok),
                                 str(out)],
                                capture_output=True, text=True, check=True, cwd=ROOT)
        r = json.loads(result.stdout.strip().splitlines()[-1])
        disk = sum(p.stat().st_size for p in out.iterdir()) / 2**20
        rows.append({"corpus": f"multi30k x{times}", "pairs": r["pairs"], "seconds": r["seconds"],
                     "pairs_per_s": r["pairs"] / r["seconds"], "peak_rss_mb": r["peak_rss_mb"],
                     "disk_mb": disk})
        shutil.rmtree(out, ignore_errors=True)
    report("prepare", rows, ["corpus", "pairs", "seconds", "pairs_per_s", "peak_rss_mb", "disk_mb"])


if __name__ == "__main__":
    main([int(x) for x in sys.argv[1:]] or None)
