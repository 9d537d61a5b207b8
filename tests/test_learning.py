"""A model trained with placeholders and term annotations (conftest.learning_run), through every interface:
the Python API (text and HTML), the command line, the server and its page, and the ONNX decoder; and the
refusals of a model that learnt neither."""

import subprocess
import sys

import pytest

from nmt.serving.launch import Server, http
from nmt.translate import Translator

from .helpers import nmt

SENTENCE = "der hund läuft um 8:15"
GLOSSARY = [("hund", "cat")]


def test_a_run_records_what_it_learnt(learning_run, toy_run):
    learnt, plain = Translator.load(learning_run), Translator.load(toy_run)
    assert (learnt.placeholders, learnt.annotates) == (True, True)
    assert (plain.placeholders, plain.annotates) == (False, False)
    assert (learning_run / "prepared" / "train.text" / "meta.json").is_file()


@pytest.mark.parametrize("mode", ["annotate", "constrain", "both"])
def test_every_mode_keeps_the_span_in_text_and_html(learning_run, mode):
    translator = Translator.load(learning_run)
    text = translator.translate(SENTENCE, glossary=GLOSSARY, glossary_mode=mode).text
    page = translator.translate(f"<p>{SENTENCE.replace('8:15', '<b>8:15</b>')}</p>", format="html",
                                glossary=GLOSSARY, glossary_mode=mode).text
    assert "8:15" in text and page.startswith("<p>") and page.count("<b>") == 1 and "8:15" in page
    if mode != "annotate":  # constrained: the term is guaranteed
        assert "cat" in text.split() and "cat" in page


def test_attention_is_shown_over_the_sentence_as_written_with_spans_for_placeholders(learning_run):
    translator = Translator.load(learning_run)
    record = translator.translate(SENTENCE, attention=True).sentences[0]
    assert "⦅" not in record["text"] and "⦅" not in "".join(record["alignment"]["target"])
    tok = translator.src_tok
    assert record["alignment"]["source"] == tok.pieces(tok.encode([SENTENCE])[0])
    assert "8:15" in record["text"]


def test_the_command_line_takes_a_glossary_mode_and_refuses_one_the_model_cannot_follow(learning_run, toy_run,
                                                                                       tmp_path):
    (tmp_path / "terms.tsv").write_text("hund\tcat\n", encoding="utf-8")
    want = Translator.load(learning_run).translate(SENTENCE, glossary=GLOSSARY, glossary_mode="both").text
    done = nmt("translate", "--model", learning_run, "--glossary", tmp_path / "terms.tsv", "--glossary-mode",
               "both", input=SENTENCE + "\n")
    assert done.returncode == 0 and done.stdout == want + "\n"
    for run, mode, message in ((toy_run, "annotate", "needs a model trained with term annotations"),
                               (learning_run, "sideways", "annotate, constrain, both")):
        done = nmt("translate", "--model", run, "--glossary", tmp_path / "terms.tsv", "--glossary-mode", mode,
                   input=SENTENCE + "\n")
        assert done.returncode != 0 and message in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


def test_the_server_takes_glossary_mode_in_both_apis(learning_run, toy_server):
    want = Translator.load(learning_run).translate(SENTENCE, glossary=GLOSSARY, glossary_mode="both").text
    server = Server("--model", learning_run)
    try:
        status, health = http(server.url + "/health")
        assert health["annotates"] == ["de-en"]
        entries = [{"source": "hund", "target": "cat"}]
        status, body = http(server.url + "/v1/translate", {"q": [SENTENCE], "source": "de", "target": "en",
                                                           "glossary": entries, "glossary_mode": "both"})
        assert status == 200 and body["translations"][0]["text"] == want
        status, body = http(server.url + "/translate", {"q": SENTENCE, "source": "de", "target": "en",
                                                        "glossary": entries, "glossary_mode": "both"})
        assert status == 200 and body["translatedText"] == want
    finally:
        server.stop()
    request = {"q": SENTENCE, "source": "de", "target": "en",
               "glossary": [{"source": "hund", "target": "cat"}]}
    status, body = http(toy_server.url + "/translate", {**request, "glossary_mode": "annotate"})
    assert status == 400 and "needs a model trained with term annotations" in body["error"]
    status, body = http(toy_server.url + "/v1/translate", {**request, "q": [SENTENCE], "glossary_mode": "x"})
    assert status == 400 and "glossary_mode must be one of" in body["error"]


def test_the_page_offers_the_modes_the_model_learnt(browser, learning_run):
    want = Translator.load(learning_run).translate(SENTENCE, glossary=GLOSSARY, glossary_mode="both").text
    server = Server("--model", learning_run)
    try:
        page = browser.new_page()
        page.goto(server.url + "/")
        page.wait_for_selector("#pair option[value='de-en']", state="attached")
        page.click("#glossary-box summary")
        page.wait_for_function("!document.querySelector('#glossary-mode [value=annotate]').disabled")
        page.select_option("#glossary-mode", "both")
        page.fill("#glossary", "hund = cat")
        page.fill("#source", SENTENCE)
        page.click("#translate")
        page.wait_for_function("document.getElementById('result').textContent.length > 0")
        assert page.text_content("#result") == want
    finally:
        server.stop()


def test_the_onnx_decoder_reads_as_torch_does(learning_run, tmp_path):
    from nmt.export import export
    from nmt.lite.translator import Translator as Lite
    export(learning_run, tmp_path / "onnx")
    lite = Lite.load(tmp_path / "onnx")
    assert (lite.placeholders, lite.annotates) == (True, True)
    torch = Translator.load(learning_run)
    lines = [SENTENCE, "die katze spielt mit 3 bällen auf www.example.org"]
    for mode in ("annotate", "both"):
        assert [t.text for t in lite.translate(lines, glossary=GLOSSARY, glossary_mode=mode)] == \
            [t.text for t in torch.translate(lines, glossary=GLOSSARY, glossary_mode=mode)]
    (tmp_path / "terms.tsv").write_text("hund\tcat\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "nmt.lite.cli", "translate", "--model",
                           str(tmp_path / "onnx"), "--glossary", str(tmp_path / "terms.tsv"),
                           "--glossary-mode", "both"],
                          input="\n".join(lines) + "\n", capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [t.text for t in torch.translate(lines, glossary=GLOSSARY,
                                                                        glossary_mode="both")]
