"""Where constraints come from: glossaries and spans kept verbatim (model-free), then through a trained
model, the command line and the server, with real glossary files."""

import pytest

from nmt import NMTError
from nmt.serving.launch import http
from nmt.text.glossary import Glossary
from nmt.text.spans import spans
from nmt.translate import Translator

from .helpers import needs_int8, nmt


def test_the_glossary_docstring_example_and_whole_words():
    g = Glossary([("Antrag", "application"), ("Müller GmbH", "Müller GmbH")])
    assert g.targets("Der Antrag der Müller GmbH.") == ["application", "Müller GmbH"]
    assert g.targets("Die Anträge, ein Antragsteller.") == []  # whole words only
    longest = Glossary([("New York", "New York"), ("York", "Yorck")])
    assert longest.targets("In New York und York.") == ["New York", "Yorck"]
    assert Glossary([("hund", "dog")]).targets("Der Hund.") == []
    assert Glossary([("hund", "dog")], ignore_case=True).targets("Der Hund.") == ["dog"]


@pytest.mark.parametrize("text, message", [
    ("Hund dog\n", "terms.tsv:1: no tab in the line"),
    ("# comment\n\nHund\tdog\tcat\n", "terms.tsv:3: more than one tab"),
    ("Hund\t \n", "terms.tsv:1: an empty target term"),
])
def test_a_bad_glossary_file_names_its_file_and_line(tmp_path, text, message):
    (tmp_path / "terms.tsv").write_text(text, encoding="utf-8")
    with pytest.raises(NMTError, match=message):
        Glossary.load(tmp_path / "terms.tsv")


def test_spans_the_docstring_example_and_urls_and_addresses():
    assert spans("Am 24. Mai um 15:30 besuchte sie https://example.org/?p=2 mit 3,5 Hunden.") == \
        ["24", "15:30", "https://example.org/?p=2", "3,5"]
    assert spans("Schreib an info@example.com oder www.beispiel.de/seite?x=1. Am 24.05.2019!") == \
        ["info@example.com", "www.beispiel.de/seite?x=1", "24.05.2019"]
    assert spans("Ein Mann.Eine Frau läuft.") == []


@pytest.fixture(scope="module")
def translator(toy_run):
    return Translator.load(toy_run, device="cpu")


def test_a_glossary_term_is_translated_as_the_glossary_says(translator):
    plain = translator.translate("der hund läuft im park").text
    assert "dog" in plain and "cat" not in plain
    forced = translator.translate("der hund läuft im park", glossary=[("hund", "cat")]).text
    assert "cat" in forced.split()


def test_numbers_and_addresses_survive_and_explicit_constraints_hold(translator):
    # the toy vocabulary has no digits or "@": those pieces are <unk> and the term is put back in place
    out = translator.translate("der hund läuft 3 mal zu info@example.com").text
    assert "3" in out.split() and "info@example.com" in out
    held = translator.translate(["der hund läuft", "die katze"], constraints=[["in the park"], []])
    assert "in the park" in held[0].text and held[1].text == translator.translate("die katze").text


def test_sentences_without_constraints_decode_as_if_there_were_none(translator, toy):
    lines = toy["valid_src"].read_text().splitlines()[:40]
    glossary = [("hund", "cat")]
    plain = [t.text for t in translator.translate(lines, beam=4)]
    forced = [t.text for t in translator.translate(lines, beam=4, glossary=glossary)]
    for line, a, b in zip(lines, plain, forced, strict=True):
        if "hund" not in line.split():
            assert a == b, line
        else:
            assert "cat" in b.split(), (line, b)


@pytest.mark.parametrize("quantize", [None, pytest.param("int8", marks=needs_int8)])
def test_constrained_output_does_not_depend_on_batching(toy_run, toy, quantize):
    translator = Translator.load(toy_run, device="cpu", quantize=quantize)
    lines = toy["valid_src"].read_text().splitlines()[:30]
    glossary = [("hund", "cat"), ("park", "street")]
    one = [t.text for t in translator.translate(lines, beam=3, glossary=glossary, max_sentences=1)]
    many = [t.text for t in translator.translate(lines, beam=3, glossary=glossary, max_sentences=64)]
    assert one == many


def test_the_command_line_takes_a_glossary_and_constraints(toy_run, tmp_path):
    (tmp_path / "terms.tsv").write_text("hund\tcat\n", encoding="utf-8")
    done = nmt("translate", "--model", str(toy_run), "--glossary", str(tmp_path / "terms.tsv"),
               input="der hund läuft\nein kind spielt\n")
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()
    assert "cat" in first.split()
    (tmp_path / "c.jsonl").write_text('["in the park"]\n[]\n', encoding="utf-8")
    done = nmt("translate", "--model", str(toy_run), "--constraints", str(tmp_path / "c.jsonl"),
               input="der hund läuft\nein kind spielt\n")
    assert done.returncode == 0 and "in the park" in done.stdout.splitlines()[0]
    (tmp_path / "bad.tsv").write_text("hund cat\n", encoding="utf-8")
    bad = nmt("translate", "--model", str(toy_run), "--glossary", str(tmp_path / "bad.tsv"), input="x\n")
    assert bad.returncode != 0 and bad.stderr.count("\n") == 1 and "bad.tsv:1: no tab" in bad.stderr


def test_the_server_takes_a_glossary(toy_server, translator):
    request = {"q": ["der hund läuft", "die katze"], "source": "de", "target": "en",
               "glossary": [{"source": "hund", "target": "cat"}]}
    status, body = http(toy_server.url + "/translate", request)
    want = [t.text for t in translator.translate(request["q"], glossary=[("hund", "cat")])]
    assert status == 200 and body["translatedText"] == want and "cat" in want[0].split()
    status, body = http(toy_server.url + "/v1/translate", {**request, "keep_spans": False})
    assert status == 200 and body["translations"][0]["text"] == want[0]
    for bad in ([{"source": "hund"}], "nonsense", [{"source": "", "target": "x"}]):
        status, body = http(toy_server.url + "/translate", {**request, "glossary": bad})
        assert status == 400 and "glossary must be a list" in body["error"]
