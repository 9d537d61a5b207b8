"""Web folders (`nmt export --web`): the page translates in headless Chromium, opened from disk, with the
network cut after it loaded, and gives nmt-lite's translations.

The browser tests need the runtime `make web` builds (npm) and Chromium with Playwright; each is skipped,
with the reason printed, where one is missing. The screenshot is left in build/test-artifacts/web.png.
"""

import json
from pathlib import Path

import pytest

from nmt import NMTError
from nmt.web import RUNTIME, build
from nmt.web.assets import asset_script, read_asset_script
from nmt.web.pack import sentencepiece_factory
from tests.helpers import ARTIFACTS, nmt

pytest.importorskip("onnx", reason="exporting needs onnx (the full extra)")
NO_RUNTIME = "no browser runtime: build it with `make web` (npm)"


def test_an_asset_script_carries_any_bytes_compressed_where_that_pays():
    import random
    noise = random.Random(0).randbytes(3000)  # incompressible: sent as it is
    text = ("ein hund läuft € " * 200).encode()  # compresses far below GZIP_SHARE
    for data, encoding in ((noise, "raw"), (text, "gzip")):
        script = asset_script("src.model", data)
        assert script.startswith(f'nmtAsset("src.model", "{encoding}", "') and script.endswith(");\n")
        assert read_asset_script(script) == ("src.model", data)


def test_the_sentencepiece_factory_is_taken_alone_and_made_a_classic_script():
    module = ('import * as fs from "fs";\nconst x = 1;\n'
              'var createSentencePieceModule=(()=>{var _scriptName=import.meta.url;return 1})();\n'
              'export { x };\n')
    want = 'var createSentencePieceModule=(()=>{var _scriptName="";return 1})();\n'
    assert sentencepiece_factory(module) == want
    with pytest.raises(NMTError, match="module factory was not found"):
        sentencepiece_factory("export const y = 2;\n")


@pytest.fixture(scope="module")
def exports(toy_run, attention_run, tmp_path_factory):
    """Both toy models exported with int8 graphs, and each one's web folder (int8 and fp32 graphs), made
    by the command line as a user makes them."""
    if not (RUNTIME / "runtime.json").is_file():
        pytest.skip(NO_RUNTIME)
    out = {}
    for name, run in (("lstm", toy_run), ("attention", attention_run)):
        root = tmp_path_factory.mktemp(f"web_{name}")
        done = nmt("export", run, "--out", root / "onnx", "--int8", "--web", root / "web",
                   "--web-graphs", "int8,fp32")
        assert done.returncode == 0, done.stderr
        assert "open" in done.stdout and "index.html" in done.stdout
        out[name] = root
    return out


def test_a_web_folder_is_refused_without_runtime_or_graphs(exports, tmp_path):
    folder = exports["lstm"] / "onnx"
    with pytest.raises(NMTError, match="make web"):
        build(folder, tmp_path / "web", runtime=tmp_path / "nothing")
    (tmp_path / "fp32").mkdir()
    for name in ("nmt-export.json", "src.model", "tgt.model", "encoder.onnx", "decoder.onnx"):
        (tmp_path / "fp32" / name).write_bytes((folder / name).read_bytes())
    with pytest.raises(NMTError, match="encoder.int8.onnx, decoder.int8.onnx missing .export with --int8"):
        build(tmp_path / "fp32", tmp_path / "web")
    with pytest.raises(NMTError, match="int8 and/or fp32, got fp16"):
        build(folder, tmp_path / "web", ("fp16",))
    done = nmt("export", folder)  # an export again, without --web: nothing to do, said in one line
    assert done.returncode != 0 and "add --web DIR" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("name", ["lstm", "attention"])
def test_the_page_translates_offline_from_disk_as_nmt_lite_does(exports, browser, toy, name):
    from nmt.lite import Translator as Lite
    web = exports[name] / "web"
    lines = toy["valid_src"].read_text().splitlines()[:40] + ["", "der hund läuft. die katze schläft!"]
    context = browser.new_context()
    page = context.new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((web / "index.html").as_uri())
    report = page.evaluate("nmtWeb.ready")
    assert report["graphs"] == ["int8", "fp32"] and report["languages"] == ["de", "en"]
    context.set_offline(True)  # everything the page needs is in it now
    for precision in ("fp32", "int8"):
        lite = Lite.load(exports[name] / "onnx", int8=precision == "int8")
        for beam in (1, 5):
            got = page.evaluate("([lines, beam, precision]) => nmtWeb.translate(lines, "
                                "{beam, precision, split: false})", [lines, beam, precision])
            want = [t.text for t in lite.translate(lines, beam=beam, keep_spans=False, split_sentences=False)]
            assert got["translations"] == want, (precision, beam)
    long = page.evaluate("nmtWeb.translate([Array(400).fill('hund').join(' '), 'der hund'], {beam: 1})")
    assert long["truncated"] == 1 and all(long["translations"])  # said, not silent
    # the page as a user sees it: typed text, the button, sentence by sentence
    page.fill("#source", "der hund läuft. die katze schläft!\n\nein mann")
    page.click("#translate")
    page.wait_for_function("document.getElementById('result').textContent.length > 0")
    want = Lite.load(exports[name] / "onnx", int8=True).translate(
        ["der hund läuft. die katze schläft!", "", "ein mann"], beam=5, keep_spans=False)
    assert page.text_content("#result") == "\n".join(t.text for t in want)
    assert page.text_content("#error") == "" and not errors
    assert {url.split(":")[0] for url in requests} <= {"file", "data", "blob"}, requests
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"web-{name}.png"), full_page=True)
    context.close()


def test_the_runtime_names_its_pinned_packages():
    if not (RUNTIME / "runtime.json").is_file():
        pytest.skip(NO_RUNTIME)
    meta = json.loads((RUNTIME / "runtime.json").read_text())
    lock = json.loads((RUNTIME.parents[2] / "web" / "package-lock.json").read_text())
    for package, version in meta["packages"].items():
        assert lock["packages"][f"node_modules/{package}"]["version"] == version
    assert {"LICENSES/onnxruntime-web.txt", "LICENSES/sentencepiece-js.txt"} <= set(meta["files"])


def test_the_server_offers_a_web_folder_and_its_page_links_to_it(exports, browser, toy_run, tmp_path):
    from nmt.serving.launch import Server, http
    web = exports["lstm"] / "web"
    server = Server("--model", toy_run, "--web", web)
    try:
        assert http(server.url + "/health")[1]["offline"] == {"de-en": "/offline/de-en/"}
        status, manifest = http(server.url + "/offline/de-en/manifest.js")
        assert status == 200 and "nmtManifest" in manifest
        page = browser.new_page()
        page.goto(server.url + "/")
        page.wait_for_selector("#offline:not([hidden])")
        page.click("#offline")  # the page from the server, then translating on its own
        page.wait_for_url("**/offline/de-en/")
        page.wait_for_function("window.nmtWeb !== undefined")
        assert page.evaluate("nmtWeb.ready")["graphs"] == ["int8", "fp32"]
        got = page.evaluate("nmtWeb.translate(['der hund läuft'], {beam: 5})")["translations"]
        from nmt.lite import Translator as Lite
        assert got == [Lite.load(exports["lstm"] / "onnx", int8=True).translate("der hund läuft").text]
        page.close()
    finally:
        status, log = server.stop()
    assert status == 0 and "Traceback" not in log
    done = nmt("serve", "--model", toy_run, "--web", tmp_path)  # not a web folder: one line, no traceback
    assert done.returncode != 0 and "not a web folder" in done.stderr and "Traceback" not in done.stderr


def test_the_page_finds_spans_and_writes_placeholders_back_as_python_does(learning_run, browser, tmp_path):
    if not (RUNTIME / "runtime.json").is_file():
        pytest.skip(NO_RUNTIME)
    from nmt.text.placeholders import mask, unmask
    done = nmt("export", learning_run, "--out", tmp_path / "onnx", "--web", tmp_path / "web",
               "--web-graphs", "fp32")
    assert done.returncode == 0, done.stderr
    page = browser.new_page()
    page.goto((tmp_path / "web" / "index.html").as_uri())
    page.evaluate("nmtWeb.ready")
    spans_tsv = Path(__file__).resolve().parents[1] / "bench" / "data" / "spans.tsv"
    lines = [line.split("\t")[0] for line in spans_tsv.read_text(encoding="utf-8").splitlines()] + [
        "Schreib an info@example.org! Oder (siehe https://example.org/a?b=1).", "Mann.Eine Frau, 1.000,5 €",
        "Ruf an: +49 170 1234567 oder +33 1 23 45 67 89, 3 + 4 = 7",
        "2 und 2 sind 4, ⦅n1⦆ ist schon da"]
    got = page.evaluate("(lines) => lines.map((t) => { const tlds = new Set(nmtManifest.tlds); "
                        "const m = nmtPlaceholders.mask(t, tlds); return [m.text, m.spans]; })", lines)
    assert got == [[mask(line).text, mask(line).spans] for line in lines]
    masked = mask("Um 8:15 Uhr kommen 2 Züge.")
    for translation in ("⦅n2⦆ trains at⦅n1⦆.", "⦅n2⦆⦅n1⦆", "trains at ⦅n1⦆."):
        js = page.evaluate("([t, text]) => nmtPlaceholders.unmask(t, nmtPlaceholders.mask(text, new Set()))",
                           [translation, "Um 8:15 Uhr kommen 2 Züge."])
        assert js == unmask(translation, masked)
    result = page.evaluate("nmtWeb.translate(['der hund läuft um 8:15', 'die katze'], {beam: 1})")
    # the span written back, or (its placeholder misplaced) the sentence translated again and said so
    first = result["translations"][0]
    assert len(result["translations"]) == 2 and (result["unplaced"] == 1 or "8:15" in first)
