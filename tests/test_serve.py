"""`nmt serve` over real HTTP on a free port: LibreTranslate's API, nmt's own, limits, errors, shutdown."""

import json
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest

from nmt.serving.launch import Server, http
from nmt.translate import Translator

DE_EN = {"source": "de", "target": "en"}


@pytest.fixture(scope="module")
def server(toy_server):
    return toy_server


@pytest.fixture(scope="module")
def local(toy_run):
    """The same model through the Python API: what the server must answer."""
    return Translator.load(toy_run)


def test_health_and_languages(server):
    assert http(server.url + "/health") == (200, {"status": "ok", "pairs": ["de-en"], "pending": 0,
                                                  "api_key": False, "attention": [], "annotates": [],
                                                  "offline": {}})
    assert http(server.url + "/languages") == (200, [{"code": "de", "name": "German", "targets": ["en"]}])


def test_libretranslate_text_and_list_match_the_python_api(server, local):
    status, body = http(server.url + "/translate", {"q": "der hund läuft", "source": "de", "target": "en"})
    assert status == 200 and body == {"translatedText": local.translate("der hund läuft", beam=5).text}
    texts = ["eine katze schläft", "", "   ", "der mann spielt\nein kind sitzt", "im park"]
    status, body = http(server.url + "/translate", {"q": texts, **DE_EN, "format": "text"})
    want = [t.text for t in local.translate(texts, beam=5)]
    assert status == 200 and body["translatedText"] == want
    assert want[1] == want[2] == "" and want[3].count("\n") == 1  # one output per text, lines kept


def test_alternatives_and_source_auto(server, local):
    status, body = http(server.url + "/translate", {"q": "der hund läuft", "source": "auto", "target": "en",
                                                    "alternatives": 2})
    best = local.translate("der hund läuft", beam=5, n_best=3)
    assert status == 200 and body["translatedText"] == best.text
    assert body["alternatives"] == [a.text for a in best.alternatives] and len(body["alternatives"]) == 2
    assert body["detectedLanguage"]["language"] == "de"
    request = {"q": ["der hund", "die katze"], **DE_EN, "alternatives": 1}
    status, body = http(server.url + "/translate", request)
    assert status == 200 and [len(a) for a in body["alternatives"]] == [1, 1]
    # a text of two sentences: its alternatives are the Python API's, each joining the sentences' k-th best
    # (test_translate.py holds that to the k-th best lists)
    two = "der hund läuft. die katze schläft."
    status, body = http(server.url + "/translate", {"q": two, **DE_EN, "alternatives": 2})
    want = [a.text for a in local.translate(two, beam=5, n_best=3).alternatives]
    assert status == 200 and body["alternatives"] == want


def test_a_form_post_like_libretranslates_python_client(server, local):
    form = urllib.parse.urlencode({"q": "die frau läuft", "source": "de", "target": "en"}).encode()
    status, body = http(server.url + "/translate", form,
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200 and body == {"translatedText": local.translate("die frau läuft").text}


def test_html_keeps_its_markup_and_is_recognised_without_a_format(server, local):
    page = '<ul><li>der <b>hund</b> läuft</li><li>die katze &amp; <a href="/k">der mann</a></li></ul>'
    want = local.translate(page, format="html", beam=5).text
    assert want.count("<li>") == 2 and '<a href="/k">' in want
    for fields in ({"format": "html"}, {}):  # LibreTranslate's own client sends no format
        status, body = http(server.url + "/translate", {"q": [page, "der hund"], **DE_EN, **fields})
        assert status == 200 and body["translatedText"] == [want, local.translate("der hund").text]
    status, body = http(server.url + "/translate", {"q": page, **DE_EN, "format": "text"})
    assert status == 200 and body["translatedText"] == local.translate(page).text  # asked for: as text
    status, body = http(server.url + "/translate", {"q": page, "source": "auto", "target": "en",
                                                    "format": "html"})
    assert status == 200 and body["translatedText"] == want and body["detectedLanguage"]["language"] == "de"
    status, body = http(server.url + "/v1/translate", {"q": [page], **DE_EN, "format": "html"})
    assert status == 200 and body["translations"][0]["text"] == want


def test_native_endpoint_gives_scored_n_best_lists(server, local):
    request = {"q": ["der mann spielt mit dem ball", ""], **DE_EN, "beam": 4, "n_best": 3,
               "length_penalty": 0.5}
    status, body = http(server.url + "/v1/translate", request)
    assert status == 200 and body["pair"] == "de-en"
    first, empty = body["translations"]
    want = local.translate("der mann spielt mit dem ball", beam=4, n_best=3, length_penalty=0.5)
    assert first["text"] == want.text and first["score"] == pytest.approx(want.score)
    scores = [first["score"]] + [a["score"] for a in first["alternatives"]]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True)
    assert empty == {"text": "", "score": 0.0, "alternatives": []}


@pytest.mark.parametrize("body, headers, status, message", [
    (b'{"q": "der hund", "source": "de"', None, 400, "malformed JSON"),
    (b'["der hund"]', None, 400, "must be a JSON object"),
    ({"q": 5, **DE_EN}, None, 400, "q must be a text or a list of texts"),
    ({"q": ["ok", 3], **DE_EN}, None, 400, "q must be a text or a list of texts"),
    ({"q": "der hund", "target": "en"}, None, 400, "source and target must be language codes"),
    ({"q": "der hund", "source": "de", "target": "fr"}, None, 400,
     "de-fr is not served; this server translates de-en"),
    ({"q": "der hund", **DE_EN, "format": "xml"}, None, 400,
     "format 'xml' is not supported; send text or html"),
    ({"q": "der hund", **DE_EN, "alternatives": 9}, None, 400, "alternatives must be"),
    (b'{"q": "der hund \xff", "source": "de", "target": "en"}', None, 400, "not UTF-8"),
    (b"q=der+hund", {"Content-Type": "text/plain"}, 400, "content type text/plain is not accepted"),
    ({"q": "der " * 100, **DE_EN}, None, 413, "a text of 400 characters; at most 300"),
    (b"[" * 5000, None, 400, "nested too deeply"),
    ({"q": "the dog runs in the park", "source": "auto", "target": "en"}, None, 400,
     "the text is in English (en) by detection"),
    ({"q": "der hund", "source": "auto", "target": "fr"}, None, 400, "nothing is translated into 'fr'"),
    ({"q": ["der hund"] * 17, **DE_EN}, None, 413, "17 texts in one request; at most 16"),
    ({"q": "x" * 25_000, **DE_EN}, None, 413, "request body over 20000 bytes"),
])
def test_bad_requests_get_a_one_line_reason(server, body, headers, status, message):
    got, answer = http(server.url + "/translate", body, headers=headers)
    assert got == status and list(answer) == ["error"], answer
    assert message in answer["error"] and "\n" not in answer["error"] and "Traceback" not in answer["error"]


@pytest.mark.parametrize("fields, message", [
    ({"beam": 7}, "beam must be an integer from 1 to 6"), ({"beam": 3, "n_best": 4}, "n_best must be"),
    ({"temperature": 1}, "unknown field temperature"), ({"q": "der hund"}, "q must be a list of texts"),
    ({"length_penalty": "big"}, "length_penalty must be a number"),
    ({"attention": True}, "the de-en model has no attention to show"), ({"attention": 1}, "true or false"),
])
def test_native_endpoint_refuses_options_outside_the_server_limits(server, fields, message):
    request = {"q": ["der hund"], "source": "de", "target": "en", **fields}
    status, answer = http(server.url + "/v1/translate", request)
    assert status == 400 and message in answer["error"]


def test_fields_in_the_query_string_with_an_empty_body_as_some_clients_send_them(server, local):
    query = urllib.parse.urlencode({"q": "die katze schläft", "source": "de", "target": "en", "api_key": "k"})
    status, body = http(f"{server.url}/translate?{query}", b"", method="POST")
    assert status == 200 and body == {"translatedText": local.translate("die katze schläft").text}
    status, body = http(f"{server.url}/translate?source=xx", {"q": "der hund", **DE_EN})  # the body wins
    assert status == 200 and body == {"translatedText": local.translate("der hund").text}


def test_detect_names_the_language_among_all_it_knows_with_the_identifiers_confidence(server):
    status, ranked = http(server.url + "/detect", {"q": "Ein Mann fährt mit dem Fahrrad durch die Stadt."})
    assert status == 200 and ranked[0]["language"] == "de" and len(ranked) == 3
    confidences = [r["confidence"] for r in ranked]
    assert confidences == sorted(confidences, reverse=True) and 50 < confidences[0] <= 100
    others = {"en": "A man rides a bicycle through the city.", "cs": "Muž jede na kole městem.",
              "fr": "Un homme fait du vélo dans la ville."}
    for language, text in others.items():
        assert http(server.url + "/detect", {"q": text})[1][0]["language"] == language, text
    status, answer = http(server.url + "/detect", {"q": "  "})
    assert status == 400 and "q must be a text" in answer["error"]


def test_source_auto_translates_each_text_with_its_detected_pair(server, local):
    from nmt.text import langid
    # German on top; a few words the identifier finds likelier Swedish, but under 50%: German is the
    # likeliest served source; an empty text
    texts = ["die frau sitzt im gras", "der hund läuft", ""]
    assert langid.detect(texts[1])[0][0] != "de" and langid.detect(texts[1])[0][1] < 50
    status, body = http(server.url + "/translate", {"q": texts, "source": "auto", "target": "en"})
    assert status == 200 and body["translatedText"] == [t.text for t in local.translate(texts)]
    assert [d["language"] for d in body["detectedLanguage"]] == ["de", "de", "de"]
    german = [dict(langid.detect(t, None))["de"] for t in texts[:2]]  # the identifier's own confidence
    assert [d["confidence"] for d in body["detectedLanguage"]] == [*german, 0.0]


def test_a_sentence_too_long_for_the_model_is_translated_in_pieces_and_the_answer_says_so(server, local):
    long = " ".join(["der hund läuft"] * 20)  # 60 words, 60 and more tokens: over the toy model's 40
    status, body = http(server.url + "/translate", {"q": [long, "der hund"], **DE_EN})
    assert status == 200 and body["translatedText"] == [t.text for t in local.translate([long, "der hund"])]
    assert body["warnings"] == [["1 sentence(s) longer than the model's limit of 40 tokens were translated "
                                 "in pieces"], []]
    assert "warnings" not in http(server.url + "/translate", {"q": "der hund", **DE_EN})[1]
    status, body = http(server.url + "/v1/translate", {"q": [long], **DE_EN})
    assert status == 200 and body["translations"][0]["warnings"] == local.translate(long).warnings != []


def test_unknown_endpoints_and_methods_answer_json(server):
    assert http(server.url + "/nothing") == (404, {"error": "no such endpoint /nothing; see GET /languages, "
                                                            "POST /translate, POST /v1/translate"})
    status, answer = http(server.url + "/translate", method="GET")
    assert status == 405 and "GET is not allowed" in answer["error"]


def test_cross_origin_calls_only_from_the_origins_allowed(server, toy_run):
    preflight = {"Origin": "http://localhost:8080", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"}
    request = urllib.request.Request(server.url + "/translate", method="OPTIONS", headers=preflight)
    with pytest.raises(urllib.error.HTTPError) as refused:  # by default: same origin only
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 405 and "Access-Control-Allow-Origin" not in refused.value.headers
    s = Server("--model", toy_run, "--allow-origin", "http://localhost:8080")
    try:
        with urllib.request.urlopen(urllib.request.Request(s.url + "/translate", method="OPTIONS",
                                                           headers=preflight), timeout=30) as answer:
            assert answer.status == 200
            assert answer.headers["Access-Control-Allow-Origin"] == "http://localhost:8080"
            assert "POST" in answer.headers["Access-Control-Allow-Methods"]
        body = json.dumps({"q": "der hund", **DE_EN}).encode()
        post = urllib.request.Request(s.url + "/translate", data=body, headers={
            "Content-Type": "application/json", "Origin": "http://localhost:8080"})
        with urllib.request.urlopen(post, timeout=30) as answer:
            assert answer.headers["Access-Control-Allow-Origin"] == "http://localhost:8080"
        other = urllib.request.Request(s.url + "/health", headers={"Origin": "http://elsewhere.example"})
        with urllib.request.urlopen(other, timeout=30) as answer:  # answered, but no browser would read it
            assert "Access-Control-Allow-Origin" not in answer.headers
    finally:
        s.stop()


def test_concurrent_requests_are_all_answered_as_if_alone(server, local):
    sentences = ["der hund läuft", "eine katze sitzt im park", "ein mann spielt", "die frau schläft heute",
                 "ein kind läuft schnell", "der ball ist rot", "der hund spielt mit dem ball"] * 3
    results = [None] * len(sentences)

    def ask(i):
        results[i] = http(server.url + "/translate", {"q": sentences[i], "source": "de", "target": "en"})

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(sentences))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    want = [t.text for t in local.translate(sentences, beam=5)]
    assert [r[0] for r in results] == [200] * len(sentences)
    assert [r[1]["translatedText"] for r in results] == want


def test_the_page_is_served_without_external_assets(server):
    status, page = http(server.url + "/")
    assert status == 200 and "<textarea" in page and 'id="translate"' in page
    assert "http://" not in page and "https://" not in page  # nothing to fetch from elsewhere


def test_api_key_is_required_when_set(toy_run):
    s = Server("--model", toy_run, env={"NMT_API_KEY": "s3cret"})
    try:
        request = {"q": "der hund", "source": "de", "target": "en"}
        assert http(s.url + "/translate", request) == (403, {"error": "Invalid API key"})
        assert http(s.url + "/translate", {**request, "api_key": "wrong"})[0] == 403
        assert http(s.url + "/translate", {**request, "api_key": "s3cret"})[0] == 200
        assert http(s.url + "/translate", request, headers={"X-API-Key": "s3cret"})[0] == 200
        assert http(s.url + "/v1/translate", {**request, "q": ["der hund"]},
                    headers={"Authorization": "Bearer s3cret"})[0] == 200
        assert http(s.url + "/languages")[0] == 200 and http(s.url + "/health")[1]["api_key"] is True
    finally:
        s.stop()


def test_sigterm_finishes_the_request_in_flight_then_exits(toy_run):
    s = Server("--model", toy_run, "--beam", 6)
    texts = [" ".join(["der hund läuft im park und die katze schläft"] * 3)] * 16
    answer = {}
    client = threading.Thread(target=lambda: answer.update(r=http(s.url + "/translate", {
        "q": texts, "source": "de", "target": "en"})))
    client.start()
    while client.is_alive() and http(s.url + "/health")[1]["pending"] < 16:  # queued or decoding
        pass
    status, err = s.stop()
    client.join(30)
    assert status == 0, err
    assert answer["r"][0] == 200 and len(answer["r"][1]["translatedText"]) == 16


def test_a_busy_port_is_one_clean_line(server, toy_run):
    import subprocess
    import sys
    command = [sys.executable, "-m", "nmt", "serve", "--model", str(toy_run), "--port", str(server.port)]
    r = subprocess.run(command, capture_output=True, text=True, timeout=120)
    last = r.stderr.strip().splitlines()[-1]
    assert r.returncode == 1 and last.startswith("error: cannot listen on 127.0.0.1:")
    assert "Traceback" not in r.stderr


def test_the_listening_socket_lets_asyncio_turn_nagle_off():
    # asyncio sets TCP_NODELAY on accepted connections only when the listening socket says IPPROTO_TCP;
    # without it a keep-alive client waited ~40 ms per request for a delayed ACK
    import socket

    from nmt.serving.launch import free_port
    from nmt.serving.server import listen
    sock = listen("127.0.0.1", free_port())
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


def test_a_full_queue_answers_429_and_the_request_holding_it_still_succeeds(toy_run):
    s = Server("--model", toy_run, "--max-queue", 16, "--max-texts", 16, "--beam", 6)
    try:
        texts = [" ".join(["der hund läuft im park und die katze schläft"] * 3)] * 16
        answer = {}
        request = {"q": texts, **DE_EN}
        holder = threading.Thread(target=lambda: answer.update(r=http(s.url + "/translate", request)))
        holder.start()
        while holder.is_alive() and http(s.url + "/health")[1]["pending"] < 16:  # a round trip each, no sleep
            pass
        status, refused = http(s.url + "/translate", {"q": "der hund", **DE_EN})
        holder.join(60)
        assert status == 429 and "try again" in refused["error"]
        assert answer["r"][0] == 200 and len(answer["r"][1]["translatedText"]) == 16
        assert http(s.url + "/translate", {"q": "der hund", **DE_EN})[0] == 200  # room again
    finally:
        s.stop()


def test_a_chunked_body_without_length_is_capped_too(server):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    chunks = iter([b'{"q": "', *[b"x" * 1000] * 30, b'", "source": "de", "target": "en"}'])  # 30 KB > 20 KB
    conn.request("POST", "/translate", body=chunks, headers={"Content-Type": "application/json"},
                 encode_chunked=True)
    response = conn.getresponse()
    assert response.status == 413 and "request body over 20000 bytes" in response.read().decode()
