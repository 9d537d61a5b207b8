"""`nmt serve` driven by client libraries no one here wrote, called as their users call them: LibreTranslate's
official Python client (libretranslatepy, a form per request) and deep-translator's LibreTranslator (every
field in the query string, an empty body). Each must get what a LibreTranslate server answers."""

import pytest

from nmt.translate import Translator

libretranslatepy = pytest.importorskip("libretranslatepy", reason="make install brings the test extra")
deep_translator = pytest.importorskip("deep_translator", reason="make install brings the test extra")


@pytest.fixture(scope="module")
def local(toy_run):
    return Translator.load(toy_run)


def test_libretranslates_own_client(toy_server, local):
    client = libretranslatepy.LibreTranslateAPI(toy_server.url)
    assert client.languages() == [{"code": "de", "name": "German", "targets": ["en"]}]
    for text in ("der hund läuft", "der hund läuft im park\neine katze schläft"):
        assert client.translate(text, source="de", target="en") == local.translate(text).text
    page = "<p>der <b>hund</b> läuft</p><p>die katze schläft</p>"  # sent without a format, found to be HTML
    assert client.translate(page, source="de", target="en") == local.translate(page, format="html").text
    auto = client.translate("der mann spielt", source="auto", target="en")
    assert auto == local.translate("der mann spielt").text
    detected = client.detect("Ein Mann fährt mit dem Fahrrad durch die Stadt.")
    assert isinstance(detected, list) and detected[0]["language"] == "de"
    assert isinstance(detected[0]["confidence"], float) and detected[0]["confidence"] > 50


def test_deep_translators_libre_translator(toy_server, local):
    # custom_url, or it calls a public host; some api_key, which a server without keys ignores
    client = deep_translator.LibreTranslator(source="de", target="en", custom_url=toy_server.url + "/",
                                             api_key="unused")
    assert client.translate("die frau sitzt im gras") == local.translate("die frau sitzt im gras").text
    batch = ["der hund läuft", "ein kind spielt mit dem ball"]
    assert client.translate_batch(batch) == [t.text for t in local.translate(batch)]
