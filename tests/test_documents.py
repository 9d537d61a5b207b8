"""Documents (text/documents/): each kind read and written around a model-free "translation" that upper-cases
the text and keeps every tag (structure identical apart from the text, runs kept on their words), then through
the toy attention model by the Python API and the command line; untrusted files refused with one line."""

import importlib.util
import io
import re
import zipfile
from types import SimpleNamespace

import pytest

from bench import sample_documents as made
from nmt import NMTError
from nmt.config import DocumentLimits
from nmt.text import htmlparse
from nmt.text.documents import open_document
from nmt.text.documents.runs import Piece, Point, from_html, to_html

from .helpers import nmt
from .test_markup import translated

pytest.importorskip("lxml", reason="the documents extra is not installed (pip install 'nmt[documents]')")
docx = pytest.importorskip("docx", reason="python-docx (the test extra) makes the .docx inputs")

# toy words: the toy model translates them word by word (helpers.LEXICON)
PARAGRAPHS = [[("der ", None), ("hund", "b"), (" läuft im ", None), ("park", "i")],
              [("die katze ", None), ("schläft", "a"), (" heute", None)],
              [("ein kind spielt mit dem ", None), ("ball", "b")]]
TABLE = [["der mann", "die frau"], ["rot", "blau"]]


def shout(block: str) -> str:
    """A stand-in translation: the text upper-cased, every tag and entity as it was."""
    return re.sub(r"(<[^>]*>|&\w+;)|([^<&]+)", lambda m: m.group(1) or m.group(2).upper(), block)


def round_trip(data: bytes, kind: str) -> bytes:
    document = open_document(data, kind)
    return document.write([shout(block) for block in document.blocks])


def test_the_runs_docstring_example():
    items = [Piece("Der "), Piece("große", 1), Piece(" Hund "), Piece("läuft", None, 0), Piece(".")]
    assert to_html(items) == 'Der <span data-f="1">große</span> Hund <a data-l="0">läuft</a>.'
    back = from_html('The <span data-f="1">big</span> dog <a data-l="0">runs</a>.<img data-p="0">')
    assert back == [Piece("The "), Piece("big", 1), Piece(" dog "), Piece("runs", None, 0), Piece("."),
                    Point(0)]


def test_cues_divide_the_translation_in_order_by_attention():
    # the subtitles docstring's example: "saw" attends to "gesehen" (cue 2), so cue 1 keeps "I" only
    doc = htmlparse.parse('<span data-c="0">Ich habe gestern</span> '
                          '<span data-c="1">einen Hund gesehen.</span>')
    t = translated("Ich habe gestern einen Hund gesehen.",
                   ["▁Ich", "▁habe", "▁gestern", "▁einen", "▁Hund", "▁gesehen", "."],
                   [("▁I", 0), ("▁saw", 5), ("▁a", 3), ("▁dog", 4), ("▁yesterday", 2), (".", 6)])
    assert doc.render([t]) == '<span data-c="0">I</span> <span data-c="1">saw a dog yesterday.</span>'
    # without alignments the division follows the cues' lengths, never crossing their order
    plain = SimpleNamespace(text="I saw a dog yesterday.", sentences=[])
    out = doc.render([plain])
    assert out == '<span data-c="0">I saw</span> <span data-c="1">a dog yesterday.</span>'


def test_docx_keeps_its_structure_and_its_runs_on_their_words():
    data = made.docx_bytes("der bericht", PARAGRAPHS, TABLE, "heute")
    # the paragraph's most used formatting is its base, unmarked: only the bold and italic words are spans
    assert open_document(data, "docx").blocks[1] == 'der <span data-f="1">hund</span> läuft im <span ' \
                                                     'data-f="2">park</span>'
    out = docx.Document(io.BytesIO(round_trip(data, "docx")))
    texts = [p.text for p in out.paragraphs]
    assert texts == ["DER BERICHT", "DER HUND LÄUFT IM PARK", "DIE KATZE SCHLÄFT HEUTE",
                     "EIN KIND SPIELT MIT DEM BALL"]
    runs = [(r.text, bool(r.bold), bool(r.italic)) for r in out.paragraphs[1].runs]
    assert ("HUND", True, False) in runs and ("PARK", False, True) in runs
    assert [p.style.name for p in out.paragraphs] == ["Heading 1", "Normal", "Normal", "List Bullet"]
    links = out.paragraphs[2]._p.findall(".//{*}hyperlink")
    assert len(links) == 1 and "".join(t.text for t in links[0].iter("{*}t")) == "SCHLÄFT"
    assert [[c.text for c in row.cells] for row in out.tables[0].rows] == [["DER MANN", "DIE FRAU"],
                                                                           ["ROT", "BLAU"]]
    assert out.sections[0].header.paragraphs[0].text == "HEUTE"
    before, after = zipfile.ZipFile(io.BytesIO(data)), zipfile.ZipFile(io.BytesIO(round_trip(data, "docx")))
    assert before.namelist() == after.namelist()
    changed = {n for n in before.namelist() if before.read(n) != after.read(n)}
    assert changed == {"word/document.xml", "word/header1.xml"}  # styles, relationships... copied unchanged


def test_footnotes_comments_and_text_boxes_of_a_docx_are_translated_and_fields_kept():
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    body = (f'<w:document {w}><w:body><w:p><w:r><w:t>der hund</w:t></w:r>'
            '<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>PAGE</w:instrText></w:r>'
            '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>3</w:t></w:r>'
            '<w:r><w:fldChar w:fldCharType="end"/></w:r><w:r><w:t> läuft</w:t></w:r></w:p>'
            '<w:p><w:r><w:txbxContent><w:p><w:r><w:t>im park</w:t></w:r></w:p></w:txbxContent></w:r></w:p>'
            '</w:body></w:document>').encode()
    paragraph = "<w:p><w:r><w:t>{}</w:t></w:r></w:p>"
    notes = f'<w:footnotes {w}><w:footnote>{paragraph.format("die katze")}</w:footnote></w:footnotes>'
    comments = f'<w:comments {w}><w:comment>{paragraph.format("ein kind")}</w:comment></w:comments>'
    data = _zip({"word/document.xml": body, "word/footnotes.xml": notes.encode(),
                 "word/comments.xml": comments.encode()})
    out = zipfile.ZipFile(io.BytesIO(round_trip(data, "docx")))
    document = out.read("word/document.xml").decode()
    assert "DER HUND" in document and "LÄUFT" in document and "IM PARK" in document
    assert "<w:instrText>PAGE</w:instrText>" in document and "<w:t>3</w:t>" in document  # the field as it was
    assert "DIE KATZE" in out.read("word/footnotes.xml").decode()
    assert "EIN KIND" in out.read("word/comments.xml").decode()


def test_pptx_odt_and_epub_keep_structure_and_formatting():
    pptx = pytest.importorskip("pptx", reason="python-pptx (the test extra) makes the .pptx input")
    data = made.pptx_bytes("der bericht", PARAGRAPHS, "die frau")
    deck = pptx.Presentation(io.BytesIO(round_trip(data, "pptx")))
    slide = deck.slides[0]
    assert slide.shapes.title.text == "DER BERICHT"
    body = slide.placeholders[1].text_frame.paragraphs
    assert [p.text for p in body][:1] == ["DER HUND LÄUFT IM PARK"]
    assert [(r.text, r.font.bold) for r in body[0].runs if r.font.bold] == [("HUND", True)]
    assert [r.hyperlink.address for r in body[1].runs if r.text == "SCHLÄFT"] == [made.LINK]
    assert slide.notes_slide.notes_text_frame.text == "DIE FRAU"

    pytest.importorskip("odf", reason="odfpy (the test extra) makes the .odt input")
    from odf import opendocument, teletype
    from odf.text import P, Span
    odt = opendocument.load(io.BytesIO(round_trip(made.odt_bytes("der bericht", PARAGRAPHS), "odt")))
    assert [teletype.extractText(p) for p in odt.getElementsByType(P)] == [
        "DER HUND LÄUFT IM PARK", "DIE KATZE SCHLÄFT HEUTE", "EIN KIND SPIELT MIT DEM BALL"]
    spans = {teletype.extractText(s): s.getAttribute("stylename") for s in odt.getElementsByType(Span)}
    assert spans == {"HUND": "mark-b", "PARK": "mark-i", "BALL": "mark-b"}

    book = zipfile.ZipFile(io.BytesIO(round_trip(made.epub_bytes("der bericht", PARAGRAPHS), "epub")))
    chapter = book.read("OEBPS/chapter.xhtml").decode()
    assert "<p>DER <b>HUND</b> LÄUFT IM <i>PARK</i></p>" in chapter
    assert chapter.startswith('<?xml version="1.0"')
    assert book.namelist()[0] == "mimetype" and book.getinfo("mimetype").compress_type == zipfile.ZIP_STORED


def test_subtitles_keep_numbers_timings_and_tags():
    cues = ["der hund läuft", "im <i>park</i>.", "die katze\nschläft."]  # the last cue on two lines
    for kind in ("srt", "vtt"):
        data = made.subtitles(cues, kind)
        document = open_document(data, kind)
        assert len(document.blocks) == 2  # the first sentence runs over two cues: one text
        out = document.write([shout(b) for b in document.blocks]).decode()
        want = data.decode().replace("der hund läuft", "DER HUND LÄUFT")
        want = want.replace("im <i>park</i>.", "IM <i>PARK</i>.")
        assert out == want.replace("die katze\nschläft.", "DIE KATZE SCHLÄFT."), kind
    voice = made.subtitles(["<v Roger>der hund läuft.", "die </i>katze"], "vtt")  # left open; a stray end
    out = round_trip(voice, "vtt").decode()
    assert "<v Roger>DER HUND LÄUFT.</v>" in out and "\nDIE </i>KATZE\n" in out
    # a cue left with no words: the group's words shared by the cues' lengths (14 and 8 characters: 3 of 4)
    two = open_document(made.subtitles(["der hund läuft", "im park."]), "srt")
    out = two.write(['<span data-c="0">the dog runs in</span> <span data-c="1"></span>']).decode()
    assert "\nthe dog runs\n" in out and "\nin\n" in out


def test_markdown_keeps_code_targets_and_front_matter():
    data = made.markdown("der bericht", PARAGRAPHS)
    out = round_trip(data, "md").decode()
    assert out.startswith("---\ntitle: der bericht\n---\n\n# DER BERICHT\n")
    assert "DER **HUND** LÄUFT IM *PARK*" in out and f"DIE KATZE [SCHLÄFT]({made.LINK}) HEUTE" in out
    assert "```python\nprint('der hund')\n```" in out and "- `code` BLEIBT" in out


def test_a_pdf_becomes_text_with_a_note_that_the_layout_is_lost():
    pdf = _pdf("der hund läuft im park")
    document = open_document(pdf, "pdf")
    assert document.blocks == ["der hund läuft im park"]
    assert "layout is not kept" in document.notes[0]
    document.output_kind = "html"
    assert "<p>DER HUND LÄUFT IM PARK</p>" in document.write([b.upper() for b in document.blocks]).decode()


def _pdf(text: str) -> bytes:
    """A one-page PDF holding `text` in Helvetica, written by hand (offsets computed)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for k, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % k + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# -- untrusted files -------------------------------------------------------------------------------------
def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


DOCX_OK = made.docx_bytes("der bericht", PARAGRAPHS[:1], TABLE, "heute")
ENTITIES = (b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
            b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p>'
            b'<w:r><w:t>&b;</w:t></w:r></w:p></w:body></w:document>')
EXTERNAL = (b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY x SYSTEM "file:///etc/passwd">]><w:document xmlns:w='
            b'"http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>&x;</w:t>'
            b'</w:r></w:p></w:body></w:document>')
BAD = {
    "bomb": (_zip({"word/document.xml": b"<a/>", "big.bin": b"\0" * 3_000_000}), "docx", "zip bomb"),
    "members": (_zip({f"m{k}": b"" for k in range(30)} | {"word/document.xml": b"<a/>"}), "docx", "members"),
    "unpacked": (_zip({"word/document.xml": b"<a/>", "a": b"x" * 600_000}), "docx", "unpacks to"),
    "dotdot": (_zip({"word/document.xml": b"<a/>", "../../evil": b"x"}), "docx", "absolute path or .."),
    "absolute": (_zip({"word/document.xml": b"<a/>", "/etc/evil": b"x"}), "docx", "absolute path or .."),
    "entities": (_zip({"word/document.xml": ENTITIES}), "docx", "declares a document type"),
    "external": (_zip({"word/document.xml": EXTERNAL}), "docx", "declares a document type"),
    "text as docx": (b"der hund\n", "docx", "not a zip archive"),
    "odt as docx": (made.odt_bytes("x", PARAGRAPHS) if importlib.util.find_spec("odf")
                    else _zip({"content.xml": b"<a/>"}), "docx", "has no word/document.xml"),
    "docx as srt": (DOCX_OK, "srt", "zip archive"),
    "truncated": (DOCX_OK[: len(DOCX_OK) // 2], "docx", "not a readable zip archive"),
    "corrupt member": (_zip({"word/document.xml": b"<w:document><w:body"}), "docx", "not well-formed"),
    "not pdf": (b"hello", "pdf", "does not start with %PDF-"),
    "latin-1": ("Größe".encode("latin-1"), "srt", "not UTF-8"),
}
LIMITS = DocumentLimits(max_bytes=2_000_000, max_members=20, max_unpacked=500_000, max_ratio=100)


@pytest.mark.parametrize("case", sorted(BAD))
def test_an_untrusted_file_is_refused_with_one_line(case):
    data, kind, why = BAD[case]
    with pytest.raises(NMTError, match=re.escape(why)) as e:
        open_document(data, kind, LIMITS if case in ("members", "unpacked") else None)
    assert "\n" not in str(e.value)
    with pytest.raises(NMTError, match="more than the limit"):
        open_document(DOCX_OK, "docx", DocumentLimits(max_bytes=1000))


# -- through the toy attention model -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def attending(attention_run):
    from nmt.translate import Translator
    return Translator.load(attention_run, device="cpu")


def test_the_api_translates_a_docx_with_runs_on_the_translated_words(attending, tmp_path):
    src, dst = tmp_path / "bericht.docx", tmp_path / "report.docx"
    src.write_bytes(made.docx_bytes("der hund", PARAGRAPHS, TABLE, "heute"))
    result = attending.translate_file(src, dst, beam=3)
    out = docx.Document(str(dst))
    assert result.kind == "docx" and out.paragraphs[1].text == "the dog runs in the park"
    assert [r.text for r in out.paragraphs[1].runs if r.bold] == ["dog"]
    assert [r.text for r in out.paragraphs[1].runs if r.italic] == ["park"]
    assert out.tables[0].rows[0].cells[1].text == "the woman"
    data = attending.translate_document(src.read_bytes(), "docx", beam=3).data  # bytes in, bytes out
    assert docx.Document(io.BytesIO(data)).paragraphs[1].text == "the dog runs in the park"


def every_kind() -> dict[str, bytes]:
    """One document of each kind, made from PARAGRAPHS."""
    kinds = {"docx": made.docx_bytes("der hund", PARAGRAPHS, TABLE, "heute"),
             "epub": made.epub_bytes("der hund", PARAGRAPHS), "md": made.markdown("der hund", PARAGRAPHS),
             "html": f"<h1>der hund</h1>\n{made.html_of(PARAGRAPHS)}\n".encode(),
             "srt": made.subtitles(["der hund läuft", "im park.", "die katze schläft."]),
             "vtt": made.subtitles(["der hund läuft", "im park.", "die katze schläft."], "vtt"),
             "txt": "der hund läuft\n\ndie katze schläft\n".encode(), "pdf": _pdf("der hund läuft im park")}
    if importlib.util.find_spec("pptx"):
        kinds["pptx"] = made.pptx_bytes("der hund", PARAGRAPHS, "die frau")
    if importlib.util.find_spec("odf"):
        kinds["odt"] = made.odt_bytes("der hund", PARAGRAPHS)
    return kinds


def test_every_kind_round_trips_through_the_toy_attention_model(attending):
    for kind, data in every_kind().items():
        document = open_document(data, kind)
        result = attending.translate_document(data, kind, beam=3)
        if kind == "pdf":  # text comes back, a paragraph a block
            assert result.kind == "txt" and result.data == b"the dog runs in the park\n"
            continue
        back = open_document(result.data, kind)
        if kind not in ("srt", "vtt"):  # cues regroup by the translation's punctuation: counted below
            assert len(back.blocks) == len(document.blocks), kind  # the same paragraphs, lines
        text = " ".join(back.blocks)
        assert "dog" in text and "hund" not in text, (kind, text)  # translated
        for mark in ("data-f", "data-l", "data-c", "<b>", "<i>", "<a "):  # every run and cue kept
            assert " ".join(document.blocks).count(mark) == text.count(mark), (kind, mark)


def test_the_command_line_translates_documents_by_extension_and_refuses_bad_ones(attention_run, tmp_path):
    srt = tmp_path / "film.srt"
    srt.write_bytes(made.subtitles(["der hund läuft", "im park.", "die katze schläft."]))
    done = nmt("translate", "--model", attention_run, "--input", srt, "--output", tmp_path / "film.en.srt")
    assert done.returncode == 0, done.stderr
    out = (tmp_path / "film.en.srt").read_text()
    # the toy model has no "."; "im" is "in the": each cue holds the words that translate it
    assert out == ("1\n00:00:00,000 --> 00:00:02,000\nthe dog runs in the\n\n"
                   "2\n00:00:02,000 --> 00:00:04,000\npark\n\n"
                   "3\n00:00:04,000 --> 00:00:06,000\nthe cat sleeps\n")
    md = tmp_path / "notes.md"
    md.write_bytes(made.markdown("der hund", PARAGRAPHS))
    done = nmt("translate", "--model", attention_run, "--input", md)
    assert done.returncode == 0 and "the **dog** runs in the *park*" in done.stdout, done.stderr
    bad = tmp_path / "bomb.docx"
    bad.write_bytes(BAD["dotdot"][0])
    done = nmt("translate", "--model", attention_run, "--input", bad, "--output", tmp_path / "out.docx")
    assert done.returncode == 1 and "absolute path or .." in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out.docx").exists()
    text = tmp_path / "report.txt"
    text.write_bytes(DOCX_OK)
    done = nmt("translate", "--model", attention_run, "--input", text)
    assert done.returncode == 1 and "is a zip archive" in done.stderr and "iconv" not in done.stderr


def test_translated_files_expire_and_the_oldest_go_first_when_full():
    from nmt.serving.files import FileStore
    now = [0.0]
    store = FileStore(minutes=1, max_bytes=10, clock=lambda: now[0])
    first = store.put(b"aaaa", "a.docx")
    now[0] = 30
    second = store.put(b"bbbb", "b.docx")
    third = store.put(b"cccc", "c.docx")  # 12 bytes would be over 10: the oldest goes
    assert store.get(first) is None and store.get(second).name == "b.docx" and store.get(third)
    assert store.put(b"x" * 11, "big.docx") is None  # over the bound alone: not kept at all
    now[0] = 91  # the second is 61 s old, the third too: both expired
    assert store.get(second) is None and store.get(third) is None and not list(store.folder.iterdir())
    store.put(b"dddd", "d.docx")
    store.close()
    assert not store.folder.exists()


# -- the server: LibreTranslate's /translate_file and /frontend/settings -------------------------------------
def post_file(url: str, name: str, data: bytes, **fields) -> tuple[int, dict]:
    """multipart/form-data as a browser or LibreTranslate's clients send it."""
    import json
    import urllib.error
    import urllib.request
    boundary = "nmt-test-boundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                 "Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(url + "/translate_file", body, method="POST", headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_the_server_translates_files_as_libretranslate_does(toy_server, toy_run):
    import json
    import shutil
    import subprocess
    import urllib.request

    from nmt.translate import Translator

    settings = json.loads(urllib.request.urlopen(toy_server.url + "/frontend/settings").read())
    assert ".docx" in settings["supportedFilesFormat"] and settings["keyRequired"] is False
    assert settings["language"]["source"]["code"] == "de" and settings["filesTranslation"] is True

    data = made.docx_bytes("der hund", PARAGRAPHS, TABLE, "heute")
    status, body = post_file(toy_server.url, "bericht.docx", data, source="de", target="en")
    assert status == 200, body
    url = body["translatedFileUrl"]
    assert url.startswith(toy_server.url + "/download_file/") and url.endswith("/bericht.en.docx")
    with urllib.request.urlopen(url) as response:
        assert "bericht.en.docx" in response.headers["content-disposition"]
        served = docx.Document(io.BytesIO(response.read()))
    local = Translator.load(toy_run).translate_document(data, "docx").data  # the same as the Python API
    local_texts = [p.text for p in docx.Document(io.BytesIO(local)).paragraphs]
    assert [p.text for p in served.paragraphs] == local_texts
    guessed = url.rsplit("/", 2)[0] + "/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/bericht.en.docx"
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(guessed)
    assert e.value.code == 404

    for name, content, why in [("bomb.docx", BAD["dotdot"][0], "absolute path or .."),
                               ("notes.exe", b"MZ", "not a supported document"),
                               ("x.docx", b"der hund", "not a zip archive")]:
        status, body = post_file(toy_server.url, name, content, source="de", target="en")
        assert status == 400 and why in body["error"], body
    status, body = post_file(toy_server.url, "big.srt", b"x" * 150_000, source="de", target="en")
    assert status == 413 and "100,000" in body["error"]  # the toy server's --max-file

    if shutil.which("curl"):  # as LibreTranslate's documentation shows it
        srt = made.subtitles(["der hund läuft", "im park."])
        done = subprocess.run(["curl", "-s", "-F", "file=@-;filename=film.srt", "-F", "source=de", "-F",
                               "target=en", toy_server.url + "/translate_file"], input=srt,
                              capture_output=True, check=True)
        film = urllib.request.urlopen(json.loads(done.stdout)["translatedFileUrl"]).read().decode()
        assert film.startswith("1\n00:00:00,000 --> 00:00:02,000\n") and "dog" in film
