"""What a request to `nmt serve` says: its fields from JSON, a form or the query string, size-checked, and
the values read from them (the format, the glossary, each text's source language); anything wrong is an
ApiError, answered as {"error": "one line"} (ERROR_HANDLERS, with Starlette's own refusals and failures)."""

from __future__ import annotations

import hmac
import json
import logging
import re
from urllib.parse import parse_qs

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from nmt import NMTError
from nmt.config import CHOICES, FORMATS, ServeConfig
from nmt.text import htmlparse, langid

log = logging.getLogger(__name__)
GLOSSARY_MODES = CHOICES[("decode", "glossary_mode")]


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


async def read_fields(request: Request, *, max_body: int, form_ok: bool) -> dict:
    """The request's fields, size-checked: from a JSON object, or where LibreTranslate's API is spoken
    (form_ok) also a urlencoded form or the query string, as LibreTranslate reads them (some of its
    clients send every field in the query string and an empty body). Body fields win."""
    limit = max_body
    if int(request.headers.get("content-length") or 0) > limit:
        raise ApiError(413, f"request body over {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, f"request body over {limit} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ApiError(400, f"request body is not UTF-8 (byte {e.start})") from None
    query = form(request.url.query) if form_ok else {}
    if form_ok and not text.strip():
        return query
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded" and text.lstrip()[:1] in ("{", "["):
        kind = "application/json"  # `curl -d '{...}'` labels JSON as a form
    if kind == "application/x-www-form-urlencoded" and form_ok:
        return {**query, **form(text)}
    if kind not in ("", "application/json"):
        raise ApiError(400, f"content type {kind} is not accepted; send application/json"
                            + (" or a urlencoded form" if form_ok else ""))
    try:
        fields = json.loads(text)
    except json.JSONDecodeError as e:
        raise ApiError(400, f"malformed JSON: {e.msg} (line {e.lineno}, column {e.colno})") from None
    except RecursionError:  # json's parser recurses once per level of nesting
        raise ApiError(400, "malformed JSON: nested too deeply for a request") from None
    if not isinstance(fields, dict):
        raise ApiError(400, "the request must be a JSON object")
    return {**query, **fields}


def form(text: str) -> dict:
    """A urlencoded form's (or query string's) fields, the last value of each."""
    return {key: values[-1] for key, values in parse_qs(text, keep_blank_values=True).items()}


def integer(value, name: str, low: int, high: int) -> int:
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):  # form fields are text
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ApiError(400, f"{name} must be an integer from {low} to {high}, got {value!r}")
    return value


def number(value, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ApiError(400, f"{name} must be a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


NAMES = {"cs": "Czech", "de": "German", "en": "English", "es": "Spanish", "fr": "French", "it": "Italian",
         "nl": "Dutch", "pl": "Polish", "pt": "Portuguese", "ru": "Russian", "tr": "Turkish", "zh": "Chinese"}


def source_of(text: str, sources: list[str], served: str) -> tuple[str, float]:
    """The language of `text` among `sources` (the served sources for the target): the identifier's
    likeliest language if one of them, else the likeliest of them, unless the identifier is more
    sure than not (50%) that the text is in another language: that is refused. (A few words are
    often ambiguous: "der hund läuft" is 27% Swedish, 22% Danish and 15% German to it.)"""
    if not text.strip():
        return sources[0], 0.0  # an empty text has no language, and translates to "" with any pair
    ranked = detect(text, None)
    language, confidence = ranked[0]
    if language not in sources and confidence >= 50:
        name = NAMES.get(language, language)
        raise ApiError(400, f"the text is in {name} ({language}) by detection ({confidence:g}% sure); "
                            f"this server translates {served}: give source if that is wrong")
    return next(((lang, c) for lang, c in ranked if lang in sources), (sources[0], 0.0))


def check_key(request: Request, fields: dict, api_key: str | None) -> None:
    """Refuse (403) a request without the server's API key, when it has one: in X-API-Key, the api_key
    field or an Authorization: Bearer header."""
    if api_key is None:
        return
    given = (request.headers.get("x-api-key") or fields.get("api_key")
             or request.headers.get("authorization", "").removeprefix("Bearer ").strip())
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), api_key.encode()):
        raise ApiError(403, "Invalid API key")


def glossary_mode_of(fields: dict, default: str, annotates: bool) -> str:
    """The request's glossary_mode (config.DecodeConfig's choices); annotate and both only for a model that
    learnt term annotations (`annotates`)."""
    mode = fields.get("glossary_mode", default)
    if mode not in GLOSSARY_MODES:
        raise ApiError(400, f"glossary_mode must be one of {', '.join(GLOSSARY_MODES)}, got {mode!r}"[:300])
    if mode in ("annotate", "both") and not annotates:
        raise ApiError(400, f"glossary_mode {mode} needs a model trained with term annotations; this one was "
                            "not: use constrain")
    return mode


def glossary_of(fields: dict, most: int) -> tuple[tuple[str, str], ...]:
    """The request's glossary, [{"source": term, "target": term}, ...], as (source, target) pairs."""
    given = fields.get("glossary", [])
    if isinstance(given, str):  # from a form or the query string: JSON text
        try:
            given = json.loads(given) if given.strip() else []
        except json.JSONDecodeError:
            given = None
    shape = 'glossary must be a list of {"source": term, "target": term}'
    if not isinstance(given, list):
        raise ApiError(400, shape)
    if len(given) > most:
        raise ApiError(413, f"{len(given)} glossary entries; at most {most}")
    pairs = []
    for k, entry in enumerate(given, start=1):
        if not isinstance(entry, dict) or set(entry) != {"source", "target"} or not all(
                isinstance(v, str) and v.strip() for v in entry.values()):
            raise ApiError(400, f"{shape}, both non-empty texts; entry {k} is {entry!r}"[:300])
        pairs.append((entry["source"].strip(), entry["target"].strip()))
    return tuple(pairs)


def check_size(texts: list[str], limits: ServeConfig) -> None:
    """Too many texts, or one too long: 413."""
    if len(texts) > limits.max_texts:
        raise ApiError(413, f"{len(texts)} texts in one request; at most {limits.max_texts}")
    longest = max((len(t) for t in texts), default=0)
    if longest > limits.max_chars:
        raise ApiError(413, f"a text of {longest} characters; at most {limits.max_chars}")


def readable(texts: list[str], format: str) -> list[str]:
    """What the language identifier reads of each text: HTML's text without its markup."""
    return texts if format == "text" else [htmlparse.parse(text).text() for text in texts]


def request_format(fields: dict, guess_from: list[str] | None = None) -> str:
    """The request's format; without one, text, or (LibreTranslate's endpoint, whose own Python client
    sends no format) html when one of the texts `guess_from` holds HTML elements."""
    format = fields.get("format")
    if format is None:
        return "html" if guess_from and any(htmlparse.holds_html(t) for t in guess_from) else "text"
    if format not in FORMATS:
        raise ApiError(400, f"format {format!r} is not supported; send {' or '.join(FORMATS)}")
    return format


def detect(text: str, best: int | None) -> list[tuple[str, float]]:
    try:
        return langid.detect(text, best)
    except NMTError as e:  # the optional identifier is not installed
        raise ApiError(501, str(e)) from None


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=exc.status)


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    message = {404: f"no such endpoint {request.url.path}; see GET /languages, POST /translate, "
                    "POST /v1/translate", 405: f"{request.method} is not allowed on {request.url.path}"}
    return JSONResponse({"error": message.get(exc.status_code, str(exc.detail))}, status_code=exc.status_code)


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s failed: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
    return JSONResponse({"error": f"internal error while translating ({type(exc).__name__}); "
                                  "the server goes on"}, status_code=500)


# every error as {"error": "one line"}: ours, Starlette's (404, 405), and anything unforeseen (500)
ERROR_HANDLERS = {HTTPException: _http_error, ApiError: _api_error, Exception: _internal_error}
