"""The HTTP application of `nmt serve`: translation for programs (a LibreTranslate-compatible API) and
people (a page).

    GET  /              a page to translate by hand (static/index.html, no external assets)
    GET  /health        {"status": "ok", "pairs": ["de-en"], "pending": 0, "api_key": false,
                        "attention": ["de-en"] (the pairs whose model can show its attention),
                        "annotates": ["de-en"] (the pairs whose model learnt glossary_mode annotate),
                        "offline": {"de-en": "/offline/de-en/"} (web folders given with --web)}
    GET  /offline/PAIR/ a web folder (nmt export --web): the page that translates inside the browser
    GET  /languages     LibreTranslate's list: [{"code": "de", "name": "German", "targets": ["en"]}]
    POST /translate     LibreTranslate's API, fields in JSON, a form or the query string: {"q": str | [str],
                        "source" (or "auto": detected per text), "target", "format": "text" | "html" (none:
                        html when a text holds HTML elements), "alternatives": N, "api_key", "glossary":
                        [{"source", "target"}] (nmt's: each sentence holding a source term is translated
                        with its target term), "glossary_mode": "annotate" | "constrain" | "both" | "auto"
                        (nmt's; sources.py)} ->
                        {"translatedText", "alternatives", "detectedLanguage" (with "auto")}
    POST /detect        LibreTranslate's: {"q": str} -> [{"language", "confidence"}], best first (langid.py)
    POST /translate_file LibreTranslate's, multipart/form-data: file (a document: .docx, .pptx, .odt, .odp,
                        .epub, .srt, .vtt, .md, .html, .txt, .pdf), source (or "auto"), target, api_key ->
                        {"translatedFileUrl": URL}: the document translated with its formatting kept
                        (text/documents/); a PDF comes back as .txt
    GET  /download_file/TOKEN/NAME  that file, kept --file-minutes (serving/files.py)
    GET  /frontend/settings  what LibreTranslate's web and file clients read first: {"charLimit",
                        "keyRequired", "apiKeys", "filesTranslation", "supportedFilesFormat", "language", ...}
    POST /v1/translate  nmt's own, JSON: {"q": [str], "source", "target", "beam", "n_best", "length_penalty",
                        "max_len_ratio", "attention": bool, "format": "text" | "html", "glossary",
                        "glossary_mode", "keep_spans": bool} -> {"pair",
                        "translations": [{"text", "score", "alternatives", "sentences" (with attention: each
                        sentence's "source", "text" and "alignment")}]}

Every error is {"error": "one line"} with status 400 (bad request), 403 (API key), 404/405 (no such
endpoint or file), 411 (a file without its length), 413 (too large), 429 (queue full, try again), 500
(decoding failed; other requests go on) or 501 (no language identifier installed). Cross-origin calls
only from the --allow-origin origins (CORS).
Starlette on uvicorn: a small, well-kept ASGI stack; requests are read and checked here rather than
by a schema library, so that every refusal has LibreTranslate's shape and says exactly what was wrong.
Decoding runs in one worker thread behind a MicroBatcher per language pair (batcher.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from nmt.config import DecodeConfig, ServeConfig
from nmt.formatting import translation_json
from nmt.serving.batcher import MicroBatcher, QueueFull
from nmt.serving.fields import (
    ERROR_HANDLERS,
    NAMES,
    ApiError,
    check_key,
    check_size,
    detect,
    glossary_mode_of,
    glossary_of,
    integer,
    number,
    read_fields,
    readable,
    request_format,
    source_of,
)
from nmt.serving.file_api import FileEndpoints
from nmt.serving.files import FileStore
from nmt.text.lines import Translation

if TYPE_CHECKING:
    from nmt.translate import Translator

NATIVE_OPTIONS = ("beam", "n_best", "length_penalty", "max_len_ratio", "attention", "format", "glossary",
                  "glossary_mode", "keep_spans")



@dataclass
class Served:
    """One language pair: its translator and the batcher in front of it."""
    name: str  # the model's path, for the log
    translator: Translator
    batcher: MicroBatcher | None = None


class Service(FileEndpoints):
    """The models by language pair, the limits, and the handlers of every endpoint."""

    def __init__(self, models: dict[tuple[str, str], Served], *, decode: DecodeConfig, serve: ServeConfig,
                 executor: ThreadPoolExecutor, api_key: str | None = None, offline: dict | None = None):
        self.models, self.decode, self.limits, self.api_key = models, decode, serve, api_key
        self.offline = offline or {}  # web folders by pair ("de-en"), served at /offline/PAIR/
        self.executor = executor  # the one thread that runs torch (see torch_thread)
        self.files = FileStore(serve.file_minutes, serve.max_stored)

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
        self.files.close()

    @staticmethod
    def _decoder(translator: Translator):
        def decode(texts: list[str], options: tuple) -> list[Translation]:
            cfg, attention, format, glossary = options  # requests share a decode when all are equal
            return translator.translate(texts, attention=attention, format=format,
                                        glossary=list(glossary) or None, **dataclasses.asdict(cfg))
        return decode

    def app(self) -> Starlette:
        routes = [Route("/", self.page), Route("/health", self.health), Route("/languages", self.languages),
                  Route("/translate", self.libretranslate, methods=["POST"]),
                  Route("/detect", self.detect, methods=["POST"]),
                  Route("/v1/translate", self.native, methods=["POST"]),
                  Route("/translate_file", self.translate_file, methods=["POST"]),
                  Route("/download_file/{token}/{name}", self.download_file),
                  Route("/frontend/settings", self.settings),
                  *(Mount(f"/offline/{pair}", StaticFiles(directory=folder, html=True))
                    for pair, folder in self.offline.items())]
        # Cross-origin calls only from the origins the server was told to trust (--allow-origin): a page on
        # any other site could otherwise use a server on this machine (or behind its firewall) from a
        # visitor's browser.
        origins = list(self.limits.allow_origins)
        middleware = [Middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"],
                                 allow_headers=["*"], max_age=600)] if origins else []
        return Starlette(routes=routes, lifespan=self.lifespan, middleware=middleware, exception_handlers={
            **ERROR_HANDLERS})

    # -- endpoints ------------------------------------------------------------------------------
    async def page(self, request: Request) -> HTMLResponse:
        page = resources.files("nmt.serving").joinpath("static/index.html")
        return HTMLResponse(page.read_text(encoding="utf-8"))

    async def health(self, request: Request) -> JSONResponse:
        pending = sum(s.batcher.pending for s in self.models.values() if s.batcher)
        pairs = [f"{s}-{t}" for s, t in self.models]
        return JSONResponse({"status": "ok", "pairs": pairs, "pending": pending,
                             "api_key": self.api_key is not None,
                             "attention": [f"{s}-{t}" for s, t in self.models if self._attends((s, t))],
                             "annotates": [f"{s}-{t}" for s, t in self.models
                                           if self.models[(s, t)].translator.annotates],
                             "offline": {pair: f"/offline/{pair}/" for pair in self.offline}})

    async def languages(self, request: Request) -> JSONResponse:
        sources = sorted({s for s, _ in self.models})
        return JSONResponse([{"code": s, "name": NAMES.get(s, s),
                              "targets": sorted(t for src, t in self.models if src == s)} for s in sources])

    async def libretranslate(self, request: Request) -> JSONResponse:
        fields = await read_fields(request, max_body=self.limits.max_body, form_ok=True)
        check_key(request, fields, self.api_key)
        q = fields.get("q")
        texts = [q] if isinstance(q, str) else q
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise ApiError(400, "q must be a text or a list of texts")
        format = request_format(fields, guess_from=texts)
        alternatives = integer(fields.get("alternatives", 0), "alternatives", 0, self.limits.max_beam - 1)
        check_size(texts, self.limits)
        pairs, detected = self._pairs(fields, readable(texts, format))
        options = dataclasses.replace(self.decode, n_best=alternatives + 1,
                                      beam=max(self.decode.beam, alternatives + 1),
                                      glossary_mode=self._glossary_mode(fields, pairs))
        glossary = glossary_of(fields, self.limits.max_glossary)
        results = await self._translate(pairs, texts, options, format=format, glossary=glossary)
        body = {"translatedText": [r.text for r in results]}
        if alternatives:
            body["alternatives"] = [[a.text for a in r.alternatives] for r in results]
        if detected is not None:  # what the identifier found for each text, as LibreTranslate reports it
            body["detectedLanguage"] = detected
        if any(r.warnings for r in results):  # not LibreTranslate's; its clients read past it
            body["warnings"] = [r.warnings for r in results]
        if isinstance(q, str):
            body = {key: value[0] for key, value in body.items()}
        return JSONResponse(body)

    async def detect(self, request: Request) -> JSONResponse:
        """LibreTranslate's language detection: {"q": text} -> [{"language", "confidence"}], best first."""
        fields = await read_fields(request, max_body=self.limits.max_body, form_ok=True)
        check_key(request, fields, self.api_key)
        q = fields.get("q")
        if not isinstance(q, str) or not q.strip():
            raise ApiError(400, "q must be a text to detect the language of")
        check_size([q], self.limits)
        ranked = detect(q, 3)
        return JSONResponse([{"language": code, "confidence": confidence} for code, confidence in ranked])

    async def native(self, request: Request) -> JSONResponse:
        fields = await read_fields(request, max_body=self.limits.max_body, form_ok=False)
        check_key(request, fields, self.api_key)
        unknown = sorted(set(fields) - {"q", "source", "target", "api_key", *NATIVE_OPTIONS})
        if unknown:
            raise ApiError(400, f"unknown field {', '.join(unknown)}; valid: q, source, target, api_key, "
                                f"{', '.join(NATIVE_OPTIONS)}")
        texts = fields.get("q")
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise ApiError(400, "q must be a list of texts")
        beam = integer(fields.get("beam", self.decode.beam), "beam", 1, self.limits.max_beam)
        n_best = integer(fields.get("n_best", 1), "n_best", 1, beam)
        length_penalty = number(fields.get("length_penalty", self.decode.length_penalty), "length_penalty",
                                 0, 10)
        ratio = number(fields.get("max_len_ratio", self.decode.max_len_ratio), "max_len_ratio", 0,
                        max(self.decode.max_len_ratio, 3.0))
        check_size(texts, self.limits)
        format = request_format(fields)
        pairs, _ = self._pairs(fields, readable(texts, format))
        if len(set(pairs)) > 1:
            found = ", ".join(sorted({source for source, _ in pairs}))
            raise ApiError(400, f"the texts are in several languages ({found}) by detection; send each "
                                "language apart, or give source")
        attention = fields.get("attention", False)
        if not isinstance(attention, bool):
            raise ApiError(400, f"attention must be true or false, got {attention!r}")
        pair = pairs[0] if pairs else self._pairs(fields, [""])[0][0]
        if attention and not self._attends(pair):
            raise ApiError(400, f"the {pair[0]}-{pair[1]} model has no attention to show")
        keep_spans = fields.get("keep_spans", self.decode.keep_spans)
        if not isinstance(keep_spans, bool):
            raise ApiError(400, f"keep_spans must be true or false, got {keep_spans!r}")
        options = dataclasses.replace(self.decode, beam=beam, n_best=n_best, length_penalty=length_penalty,
                                      max_len_ratio=ratio, keep_spans=keep_spans,
                                      glossary_mode=self._glossary_mode(fields, [pair]))
        results = await self._translate(pairs, texts, options, attention=attention, format=format,
                                        glossary=glossary_of(fields, self.limits.max_glossary))
        return JSONResponse({"pair": f"{pair[0]}-{pair[1]}",
                             "translations": [translation_json(r) for r in results]})

    def _attends(self, pair: tuple[str, str]) -> bool:
        return self.models[pair].translator.attends

    def _glossary_mode(self, fields: dict, pairs: list[tuple[str, str]]) -> str:
        """The request's glossary_mode, which every model it goes to must be able to follow."""
        annotates = all(self.models[pair].translator.annotates for pair in set(pairs))
        return glossary_mode_of(fields, self.decode.glossary_mode, annotates)

    # -- request checks (the rest are fields.py's) -----------------------------------------------------
    def _pairs(self, fields: dict, texts: list[str]) -> tuple[list[tuple[str, str]], list[dict] | None]:
        """Each text's (source, target) pair. With source "auto", the language identifier names each text's
        source (langid.py), and what it found comes back too: {"language", "confidence"} per text."""
        source, target = fields.get("source"), fields.get("target")
        if not isinstance(source, str) or not isinstance(target, str):
            raise ApiError(400, 'source and target must be language codes, e.g. "source": "de", '
                                '"target": "en"')
        served = ", ".join(f"{s}-{t}" for s, t in self.models)
        if source != "auto":
            if (source, target) not in self.models:
                raise ApiError(400, f"{source}-{target} is not served; this server translates {served}")
            return [(source, target)] * len(texts), None
        sources = [s for s, t in self.models if t == target]
        if not sources:
            raise ApiError(400, f"nothing is translated into {target!r} here; this server translates "
                                f"{served}")
        pairs, detected = [], []
        for text in texts:
            language, confidence = source_of(text, sources, served)
            pairs.append((language, target))
            detected.append({"language": language, "confidence": confidence})
        return pairs, detected

    async def _translate(self, pairs: list[tuple[str, str]], texts: list[str], options: DecodeConfig, *,
                         attention: bool = False, format: str = "text", glossary: tuple = ()
                         ) -> list[Translation]:
        """Each text translated with its pair's model, all pairs at once; results in the texts' order."""
        by_pair: dict[tuple[str, str], list[int]] = {}
        for i, pair in enumerate(pairs):
            by_pair.setdefault(pair, []).append(i)
        try:
            done = await asyncio.gather(*(self.models[pair].batcher.submit([texts[i] for i in rows],
                                                                           (options, attention, format,
                                                                            glossary))
                                          for pair, rows in by_pair.items()))
        except QueueFull as e:
            raise ApiError(429, f"busy: {e}; try again shortly") from None
        except Exception as e:  # logged by the batcher; the other requests were not affected
            raise ApiError(500, f"decoding failed ({type(e).__name__}); the server goes on") from None
        results: list = [None] * len(texts)
        for rows, translated in zip(by_pair.values(), done, strict=True):
            for i, translation in zip(rows, translated, strict=True):
                results[i] = translation
        return results
