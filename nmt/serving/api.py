"""The HTTP application of `nmt serve`: translation for programs (a LibreTranslate-compatible API) and
people (a page).

    GET  /              a page to translate by hand (static/index.html, no external assets)
    GET  /health        {"status": "ok", "pairs": ["de-en"], "pending": 0, "api_key": false}
    GET  /languages     LibreTranslate's list: [{"code": "de", "name": "German", "targets": ["en"]}]
    POST /translate     LibreTranslate's API, JSON or form: {"q": str | [str], "source", "target",
                        "format": "text", "alternatives": N, "api_key"} -> {"translatedText", "alternatives"}
    POST /v1/translate  nmt's own, JSON: {"q": [str], "source", "target", "beam", "n_best", "length_penalty",
                        "max_len_ratio"} -> {"pair", "translations": [{"text", "score", "alternatives"}]}

Every error is {"error": "one line"} with status 400 (bad request), 403 (API key), 404/405 (no such
endpoint), 413 (too large), 429 (queue full, try again) or 500 (decoding failed; other requests go on).
Starlette on uvicorn: a small, well-kept ASGI stack; requests are read and checked here rather than
by a schema library, so that every refusal has LibreTranslate's shape and says exactly what was wrong.
Decoding runs in one worker thread behind a MicroBatcher per language pair (batcher.py).
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from nmt.config import DecodeConfig, ServeConfig
from nmt.formatting import translation_json
from nmt.serving.batcher import MicroBatcher, QueueFull
from nmt.translate import Translation, Translator

log = logging.getLogger(__name__)
NAMES = {"cs": "Czech", "de": "German", "en": "English", "es": "Spanish", "fr": "French", "it": "Italian",
         "nl": "Dutch", "pl": "Polish", "pt": "Portuguese", "ru": "Russian", "tr": "Turkish", "zh": "Chinese"}
NATIVE_OPTIONS = ("beam", "n_best", "length_penalty", "max_len_ratio")


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class Served:
    """One language pair: its translator and the batcher in front of it."""
    name: str  # the model's path, for the log
    translator: Translator
    batcher: MicroBatcher | None = None


class Service:
    """The models by language pair, the limits, and the handlers of every endpoint."""

    def __init__(self, models: dict[tuple[str, str], Served], *, decode: DecodeConfig, serve: ServeConfig,
                 executor: ThreadPoolExecutor, api_key: str | None = None):
        self.models, self.decode, self.limits, self.api_key = models, decode, serve, api_key
        self.executor = executor  # the one thread that runs torch (see torch_thread)

    @asynccontextmanager
    async def lifespan(self, app):
        for served in self.models.values():
            served.batcher = MicroBatcher(self._decoder(served.translator), executor=self.executor,
                                          max_pending=self.limits.max_queue,
                                          max_batch=self.decode.max_sentences,
                                          wait=self.limits.batch_wait_ms / 1000)
            served.batcher.start()
        yield
        for served in self.models.values():
            await served.batcher.stop()
        self.executor.shutdown(wait=True)

    @staticmethod
    def _decoder(translator: Translator):
        def decode(texts: list[str], options: DecodeConfig) -> list[Translation]:
            return translator.translate(texts, **dataclasses.asdict(options))
        return decode

    def app(self) -> Starlette:
        routes = [Route("/", self.page), Route("/health", self.health), Route("/languages", self.languages),
                  Route("/translate", self.libretranslate, methods=["POST"]),
                  Route("/v1/translate", self.native, methods=["POST"])]
        return Starlette(routes=routes, lifespan=self.lifespan, exception_handlers={
            HTTPException: _http_error, ApiError: _api_error, Exception: _internal_error})

    # -- endpoints ------------------------------------------------------------------------------
    async def page(self, request: Request) -> HTMLResponse:
        page = resources.files("nmt.serving").joinpath("static/index.html")
        return HTMLResponse(page.read_text(encoding="utf-8"))

    async def health(self, request: Request) -> JSONResponse:
        pending = sum(s.batcher.pending for s in self.models.values() if s.batcher)
        pairs = [f"{s}-{t}" for s, t in self.models]
        return JSONResponse({"status": "ok", "pairs": pairs, "pending": pending,
                             "api_key": self.api_key is not None})

    async def languages(self, request: Request) -> JSONResponse:
        sources = sorted({s for s, _ in self.models})
        return JSONResponse([{"code": s, "name": NAMES.get(s, s),
                              "targets": sorted(t for src, t in self.models if src == s)} for s in sources])

    async def libretranslate(self, request: Request) -> JSONResponse:
        fields = await self._fields(request, form_ok=True)
        self._check_key(request, fields)
        q = fields.get("q")
        texts = [q] if isinstance(q, str) else q
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise ApiError(400, "q must be a text or a list of texts")
        if fields.get("format", "text") != "text":
            raise ApiError(400, f"format {fields.get('format')!r} is not supported; "
                                "send plain text (format: text)")
        alternatives = _integer(fields.get("alternatives", 0), "alternatives", 0, self.limits.max_beam - 1)
        pair, detected = self._pair(fields)
        options = dataclasses.replace(self.decode, n_best=alternatives + 1,
                                      beam=max(self.decode.beam, alternatives + 1))
        results = await self._translate(pair, texts, options)
        body = {"translatedText": [r.text for r in results]}
        if alternatives:
            body["alternatives"] = [[a.text for a in r.alternatives] for r in results]
        if detected:  # LibreTranslate reports it so; here it is the only source served, not a detection
            body["detectedLanguage"] = [{"language": pair[0], "confidence": 100.0}] * len(results)
        if isinstance(q, str):
            body = {key: value[0] for key, value in body.items()}
        return JSONResponse(body)

    async def native(self, request: Request) -> JSONResponse:
        fields = await self._fields(request, form_ok=False)
        self._check_key(request, fields)
        unknown = sorted(set(fields) - {"q", "source", "target", "api_key", *NATIVE_OPTIONS})
        if unknown:
            raise ApiError(400, f"unknown field {', '.join(unknown)}; valid: q, source, target, api_key, "
                                f"{', '.join(NATIVE_OPTIONS)}")
        texts = fields.get("q")
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise ApiError(400, "q must be a list of texts")
        beam = _integer(fields.get("beam", self.decode.beam), "beam", 1, self.limits.max_beam)
        n_best = _integer(fields.get("n_best", 1), "n_best", 1, beam)
        length_penalty = _number(fields.get("length_penalty", self.decode.length_penalty), "length_penalty",
                                 0, 10)
        ratio = _number(fields.get("max_len_ratio", self.decode.max_len_ratio), "max_len_ratio", 0,
                        max(self.decode.max_len_ratio, 3.0))
        pair, _ = self._pair(fields)
        options = dataclasses.replace(self.decode, beam=beam, n_best=n_best, length_penalty=length_penalty,
                                      max_len_ratio=ratio)
        results = await self._translate(pair, texts, options)
        return JSONResponse({"pair": f"{pair[0]}-{pair[1]}",
                             "translations": [translation_json(r) for r in results]})

    # -- request checks -----------------------------------------------------------------------------
    async def _fields(self, request: Request, *, form_ok: bool) -> dict:
        """The request's fields from a JSON object (or, where allowed, a urlencoded form), size-checked."""
        limit = self.limits.max_body
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
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/x-www-form-urlencoded" and text.lstrip()[:1] in ("{", "["):
            kind = "application/json"  # `curl -d '{...}'` labels JSON as a form
        if kind == "application/x-www-form-urlencoded" and form_ok:
            return {key: values[-1] for key, values in parse_qs(text, keep_blank_values=True).items()}
        if kind not in ("", "application/json"):
            raise ApiError(400, f"content type {kind} is not accepted; send application/json"
                                + (" or a urlencoded form" if form_ok else ""))
        try:
            fields = json.loads(text)
        except json.JSONDecodeError as e:
            raise ApiError(400, f"malformed JSON: {e.msg} (line {e.lineno}, column {e.colno})") from None
        if not isinstance(fields, dict):
            raise ApiError(400, "the request must be a JSON object")
        return fields

    def _check_key(self, request: Request, fields: dict) -> None:
        if self.api_key is None:
            return
        given = (request.headers.get("x-api-key") or fields.get("api_key")
                 or request.headers.get("authorization", "").removeprefix("Bearer ").strip())
        if not isinstance(given, str) or not hmac.compare_digest(given.encode(), self.api_key.encode()):
            raise ApiError(403, "Invalid API key")

    def _pair(self, fields: dict) -> tuple[tuple[str, str], bool]:
        """The requested (source, target) pair; source "auto" picks the only source served for the target.
        Also whether "auto" was resolved that way."""
        source, target = fields.get("source"), fields.get("target")
        if not isinstance(source, str) or not isinstance(target, str):
            raise ApiError(400, 'source and target must be language codes, e.g. "source": "de", '
                                '"target": "en"')
        served = ", ".join(f"{s}-{t}" for s, t in self.models)
        if source == "auto":
            sources = [s for s, t in self.models if t == target]
            if len(sources) != 1:
                raise ApiError(400, f"cannot tell the source language for target {target!r}; give source "
                                    f"(this server translates {served})")
            return (sources[0], target), True
        if (source, target) not in self.models:
            raise ApiError(400, f"{source}-{target} is not served; this server translates {served}")
        return (source, target), False

    async def _translate(self, pair: tuple[str, str], texts: list[str], options: DecodeConfig
                         ) -> list[Translation]:
        limits = self.limits
        if len(texts) > limits.max_texts:
            raise ApiError(413, f"{len(texts)} texts in one request; at most {limits.max_texts}")
        longest = max((len(t) for t in texts), default=0)
        if longest > limits.max_chars:
            raise ApiError(413, f"a text of {longest} characters; at most {limits.max_chars}")
        try:
            return await self.models[pair].batcher.submit(texts, options)
        except QueueFull as e:
            raise ApiError(429, f"busy: {e}; try again shortly") from None
        except Exception as e:  # logged by the batcher; the other requests were not affected
            raise ApiError(500, f"decoding failed ({type(e).__name__}); the server goes on") from None


def _integer(value, name: str, low: int, high: int) -> int:
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):  # form fields are text
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ApiError(400, f"{name} must be an integer from {low} to {high}, got {value!r}")
    return value


def _number(value, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ApiError(400, f"{name} must be a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


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
