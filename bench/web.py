"""The model in the browser against nmt-lite: `python -m bench web RUN_OR_EXPORT`.

RUN (a run folder, exported here into bench/work/web/) or a folder `nmt export --int8` wrote. Its web
folders are made (int8 alone, the default; int8 and fp32, for the comparison) and opened from disk in
headless Chromium (Playwright), one tab, ONNX Runtime Web on one thread (a page from disk is not
cross-origin isolated). Measured, one after the other in this run:
- load to ready (from the request of the page to the model ready to translate), the int8 folder, median
  of 3 fresh tabs; and the folder's size;
- on test2016 and the Tatoeba test: words/s of the page and of nmt-lite (on 1 thread, as the page, and
  on its default threads), greedy and beam 5, int8 and fp32, the same graphs; BLEU of each, and the
  lines where the page's translation differs from nmt-lite's. Both translate line by line (no sentence
  splitting: the browser's splitter is not sentencex) with nmt-lite's batching (128 sentences, by length).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from bench.common import DATA, ROOT, WORK, report, require_data
from nmt.evaluate import corpus_bleu
from nmt.fileio import read_lines
from nmt.lite import Translator as Lite
from nmt.web import build, size_mb

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
         "--disable-background-networking", "--disable-component-update"]
TATOEBA = ROOT / "data" / "tatoeba-de-en"
TESTS = {"test2016": (DATA / "test2016.de", DATA / "test2016.en"),
         "tatoeba": (TATOEBA / "test.de", TATOEBA / "test.en")}
TRANSLATE = "([lines, beam, precision]) => nmtWeb.translate(lines, {beam, precision, split: false})"


def _words(lines: list[str]) -> int:
    return sum(len(line.split()) for line in lines)


def main(model: str) -> None:
    require_data()
    from playwright.sync_api import sync_playwright
    folder = Path(model)
    if not (folder / "nmt-export.json").is_file():
        from nmt.export import export
        folder = WORK / "web" / Path(model).name / "onnx"
        export(model, folder, int8=True)
    default, both = folder.parent / "web-int8", folder.parent / "web-int8-fp32"
    build(folder, default, ("int8",))
    build(folder, both, ("int8", "fp32"))
    rows = [{"what": "folder size, MB (int8, the default)", "value": round(size_mb(default), 1)},
            {"what": "folder size, MB (int8 and fp32)", "value": round(size_mb(both), 1)}]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=FLAGS)
        ready = []
        for _ in range(3):
            page = browser.new_page()
            page.goto((default / "index.html").as_uri())
            ready.append(page.evaluate("nmtWeb.ready")["seconds"])
            page.close()
        rows.append({"what": "load to ready, s (int8 folder, median of 3)",
                     "seconds": statistics.median(ready)})
        page = browser.new_page()
        page.goto((both / "index.html").as_uri())
        page.evaluate("nmtWeb.ready")
        for test, (src_path, ref_path) in TESTS.items():
            if not src_path.is_file():
                continue
            src, ref = list(read_lines(src_path)), list(read_lines(ref_path))
            words = _words(src)
            for precision in ("int8", "fp32"):
                lites = {f"nmt-lite, {n} thread{'s' * (n != 1)}": Lite.load(folder, int8=precision == "int8",
                                                                            threads=n) for n in (1, 2)}
                for beam in (1, 5):
                    page.evaluate(TRANSLATE, [src[:32], beam, precision])  # warm
                    got = page.evaluate(TRANSLATE, [src, beam, precision])
                    rows.append({"test": test, "what": f"browser, {precision}, beam {beam}",
                                 "words_per_s": words / got["seconds"],
                                 "bleu": corpus_bleu(got["translations"], ref)})
                    for name, lite in lites.items():
                        lite.translate(src[:32], beam=beam, keep_spans=False, split_sentences=False)
                        start = time.perf_counter()
                        out = [t.text for t in lite.translate(src, beam=beam, keep_spans=False,
                                                              split_sentences=False)]
                        rate = words / (time.perf_counter() - start)
                        rows.append({"test": test, "what": f"{name}, {precision}, beam {beam}",
                                     "words_per_s": rate, "bleu": corpus_bleu(out, ref)})
                    differ = sum(a != b for a, b in zip(got["translations"], out, strict=True))
                    rows.append({"test": test, "what": f"lines where the browser differs from nmt-lite, "
                                 f"{precision}, beam {beam}", "value": f"{differ} of {len(src)}"})
        browser.close()
    for row in rows:
        row["model"] = model
    report("web", rows, ["model", "test", "what", "words_per_s", "bleu", "seconds", "value"])
