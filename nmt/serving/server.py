"""`nmt serve`: load the models, one per language pair, and answer HTTP requests (the application is
api.py) until SIGTERM or Ctrl-C, which finish the requests in flight first. The engine: torch
(nmt.Translator: everything) or onnx (nmt.lite.Translator on exported models: no PyTorch imported)."""

from __future__ import annotations

import logging
import re
import signal
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from nmt import NMTError
from nmt.config import DecodeConfig, RuntimeConfig, ServeConfig
from nmt.serving.api import Served, Service

ENGINES = ("torch", "onnx")

log = logging.getLogger(__name__)


def language_pair(translator, path: str) -> tuple[str, str]:
    """(source, target) language codes from the file names the model was trained on (train.de, train.en)."""
    if translator.languages is None:
        raise NMTError(f"{path}: cannot tell its languages from its training files; give --pair SRC-TGT "
                       "for it, e.g. --pair de-en")
    return translator.languages


def parse_pair(text: str) -> tuple[str, str]:
    if not re.fullmatch(r"[A-Za-z]{2,8}-[A-Za-z]{2,8}", text):
        raise NMTError(f"--pair takes SRC-TGT language codes such as de-en, got {text!r}")
    src, tgt = text.lower().split("-")
    return src, tgt


def offline_folders(folders: list[Path]) -> dict[str, Path]:
    """Web folders by their language pair ("de-en"), from their manifests."""
    from nmt.web import read_manifest
    out: dict[str, Path] = {}
    for folder in folders:
        languages = read_manifest(folder).get("languages")
        if not languages:
            raise NMTError(f"{folder}: its model does not say its languages; it cannot be offered by pair")
        pair = "-".join(languages)
        if pair in out:
            raise NMTError(f"{folder}: {pair} is already offered by {out[pair]}; one web folder per pair")
        out[pair] = Path(folder)
    return out


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a busy port is a clean error, not a log line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto given explicitly: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets that say
    # IPPROTO_TCP, and with it on, a response written in two parts waits ~40 ms for the client's ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        # listening from here on: a client that connects once the start is logged waits in the backlog
        # until uvicorn accepts, instead of being refused
        sock.listen(2048)
    except OSError as e:
        sock.close()
        raise NMTError(f"cannot listen on {host}:{port} ({e.strerror}); "
                       "choose another --port or --host") from None
    return sock


def torch_thread(threads: int = 0) -> ThreadPoolExecutor:
    """The one thread that loads the models and decodes, one batch at a time on all the cores torch has.
    Only this thread runs torch: each thread that does gets its own OpenMP team, and an idle team
    spins on the cores the busy one needs (batch-32 decoding fell from 333 to 228 sentences/s)."""
    def start():
        import torch
        torch.set_num_threads(threads)  # OpenMP counts are per thread
    return ThreadPoolExecutor(1, thread_name_prefix="decode", initializer=start if threads else None)


def _loader(engine: str, runtime: RuntimeConfig):
    """How a model path becomes a translator for `engine`."""
    if engine == "onnx":
        from nmt.lite import Translator as Lite
        return lambda path: Lite.load(path, int8=runtime.quantize == "int8", threads=runtime.threads)
    from nmt.translate import Translator
    return lambda path: Translator.load(path, runtime)


def serve(models: list[str], *, pairs: list[str], decode: DecodeConfig, serve_cfg: ServeConfig,
          runtime: RuntimeConfig | None = None, api_key: str | None = None, engine: str = "torch",
          web: list[Path] | None = None) -> None:
    """Load the models, one per language pair (Translator.load(path, runtime), or with engine onnx
    nmt.lite's Translator on exported folders), and answer HTTP requests until SIGTERM or Ctrl-C (both
    finish the requests in flight first). web: web folders (nmt export --web) offered at /offline/SRC-TGT/."""
    import uvicorn
    if engine not in ENGINES:
        raise NMTError(f"--engine takes {' or '.join(ENGINES)}, got {engine!r}")
    if pairs and len(pairs) != len(models):
        raise NMTError(f"{len(pairs)} --pair for {len(models)} --model; "
                       "give one per model, in the same order")
    served: dict[tuple[str, str], Served] = {}
    runtime = runtime or RuntimeConfig()
    executor = torch_thread(runtime.threads) if engine == "torch" else ThreadPoolExecutor(
        1, thread_name_prefix="decode")
    load = _loader(engine, runtime)
    for k, path in enumerate(models):
        translator = executor.submit(load, path).result()
        pair = parse_pair(pairs[k]) if pairs else language_pair(translator, path)
        if pair in served:
            raise NMTError(f"{path}: {pair[0]}-{pair[1]} is already served by {served[pair].name}; "
                           "give each model its own --pair")
        served[pair] = Served(path, translator)
    offline = offline_folders(web or [])
    sock = listen(serve_cfg.host, serve_cfg.port)
    service = Service(served, decode=decode, serve=serve_cfg, executor=executor, api_key=api_key,
                      offline=offline)
    where = f"http://{serve_cfg.host}:{serve_cfg.port}"
    for (src, tgt), s in served.items():
        log.info("%s-%s: %s", src, tgt, s.name)
    log.info("serving on %s (page at /, LibreTranslate API at /translate); Ctrl-C or SIGTERM stops", where)
    config = uvicorn.Config(service.app(), log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=None)
    # uvicorn answers SIGTERM/SIGINT by finishing the requests in flight, then sends the signal again to
    # the handler it found: this one, so that a requested stop is a clean exit (status 0).
    received: list[int] = []
    previous = {sig: signal.signal(sig, lambda number, frame: received.append(number))
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("stopped%s; every request in flight was answered",
             f" by {signal.Signals(received[0]).name}" if received else "")
