"""Translate with an exported model (nmt/export.py) on ONNX Runtime, NumPy and sentencepiece: no PyTorch.

    >>> from nmt.lite import Translator
    >>> translator = Translator.load("exported/")          # the folder `nmt export` wrote
    >>> [t.text for t in translator.translate(["Ein Hund läuft.", ""], beam=5)]
    ['A dog is running.', '']

The same rules as nmt.Translator: one Translation per text, in order; a text's lines translated line by
line, each sentence by sentence (lines.py), long sentences cut and counted; sentences sorted by length
into batches of at most max_sentences and max_tokens; the same search rules (lite/search.py). Not here:
constraints (glossaries, spans kept), attention weights, ensembles, shortlists (use nmt.Translator).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from nmt import NMTError
from nmt.config import DecodeConfig
from nmt.lines import Counts, Translation, join_lines, length_batches, rejoin, sentences
from nmt.lite.search import beam_search, greedy_search
from nmt.scoring import Hypothesis
from nmt.tokenizer import Tokenizer

META = "nmt-export.json"
CHUNK_LINES = 4096
DECODE_OPTIONS = [f.name for f in dataclasses.fields(DecodeConfig)]
UNSUPPORTED = {"no_repeat_ngram": 0}  # options lite cannot honour, with the only value it takes




class Translator:
    constrains = False  # no glossaries or constraints here (the server asks)

    def __init__(self, folder: Path, *, int8: bool = False, threads: int = 0):
        import onnxruntime as ort
        meta_path = folder / META
        if not meta_path.is_file():
            raise NMTError(f"{folder}: no exported model ({META} missing); make one with "
                           f"`nmt export RUN --out {folder}`")
        self.meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if self.meta.get("format") != "nmt-onnx":
            raise NMTError(f"{meta_path}: not an nmt export")
        suffix = ".int8.onnx" if int8 else ".onnx"
        if int8 and not (folder / f"encoder{suffix}").is_file():
            raise NMTError(f"{folder}: no int8 graphs; export with `nmt export ... --int8`")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        providers = ["CPUExecutionProvider"]
        self.encoder = ort.InferenceSession(str(folder / f"encoder{suffix}"), options, providers=providers)
        self.decoder = ort.InferenceSession(str(folder / f"decoder{suffix}"), options, providers=providers)
        self.src_tok = Tokenizer.load(folder / "src.model")
        self.tgt_tok = Tokenizer.load(folder / "tgt.model")
        self.names = self.meta["names"]
        self.reverse, self.max_src_len = self.meta["reverse_source"], self.meta["max_len"]
        self.languages = tuple(self.meta["languages"]) if self.meta.get("languages") else None
        self.counts = Counts()
        self.bos, self.eos, self.pad = self.meta["bos"], self.meta["eos"], self.meta["pad"]

    @classmethod
    def load(cls, folder: str | Path, *, int8: bool = False, threads: int = 0) -> Translator:
        """The folder `nmt export` wrote; int8: its int8 graphs (exported with --int8)."""
        folder = Path(folder)
        if not folder.is_dir():
            raise NMTError(f"{folder}: no such folder; export a model with `nmt export RUN --out {folder}`")
        return cls(folder, int8=int8, threads=threads)

    # -- the graphs as search's step ---------------------------------------------------------------
    def encode(self, src_ids: list[list[int]]) -> tuple[dict, np.ndarray]:
        """The decoder's first state for non-empty id sequences, and their lengths."""
        lens = np.array([len(s) for s in src_ids], dtype=np.int64)
        src = np.full((len(src_ids), int(lens.max())), self.pad, dtype=np.int64)
        for i, ids in enumerate(src_ids):
            src[i, : len(ids)] = ids[::-1] if self.reverse else ids  # reversed before padding, as data.py
        out = dict(zip(self.names["encoder_out"], self.encoder.run(None, {"src": src, "src_lens": lens}),
                       strict=True))
        if "source" in self.names["decoder_in"]:
            out["source"] = np.arange(len(src_ids), dtype=np.int64)
        if "feed" in self.names["decoder_in"]:
            out["feed"] = np.zeros((len(src_ids), self.meta["hidden"]), dtype=np.float32)
        return out, lens

    def step(self, tokens: np.ndarray, state: dict) -> tuple[np.ndarray, dict]:
        feeds = {name: (tokens if name == "tokens" else state[name]) for name in self.names["decoder_in"]}
        outputs = self.decoder.run(None, feeds)
        new = dict(state)
        for name, value in zip(self.names["decoder_out"][1:], outputs[1:], strict=True):
            new[name.removesuffix("_out")] = value
        return outputs[0], new

    @staticmethod
    def reorder(state: dict, rows: np.ndarray) -> dict:
        """Follow rows: recurrent state (layers, rows, hidden), feed and source (rows, ...); what a source
        holds (memory, keys, mask) stays once per source."""
        out = dict(state)
        for name in ("h", "c"):
            if name in out:
                out[name] = out[name][:, rows]
        for name in ("feed", "source"):
            if name in out:
                out[name] = out[name][rows]
        return out

    def search(self, src_ids: list[list[int]], cfg: DecodeConfig) -> list[list[Hypothesis]]:
        state, lens = self.encode(src_ids)
        max_lens = (lens.astype(np.float64) * cfg.max_len_ratio + cfg.max_len_extra).astype(np.int64)
        common = dict(max_lens=max_lens, bos=self.bos, eos=self.eos, alpha=cfg.length_penalty,
                      norm=cfg.length_norm)
        if cfg.beam <= 1:
            return greedy_search(self.step, self.reorder, state, **common)
        return beam_search(self.step, self.reorder, state, beam=cfg.beam, n_best=cfg.n_best,
                           stop_early=cfg.stop_early, **common)

    # -- texts -------------------------------------------------------------------------------------
    def translate(self, texts: str | Iterable[str], *, glossary=None, constraints=None,
                  attention: bool = False, format: str = "text", **options
                  ) -> Translation | list[Translation]:
        """nmt.Translator.translate without constraints or attention: one Translation per text, in order.
        options: DecodeConfig's fields (keep_spans is ignored: spans are kept by constraints)."""
        if glossary or constraints or attention:
            raise NMTError("glossaries, constraints and attention weights need the torch engine "
                           "(nmt.Translator, or `nmt serve` without --engine onnx)")
        unknown = sorted(set(options) - set(DECODE_OPTIONS))
        if unknown:
            raise NMTError(f"unknown decoding option {', '.join(unknown)}; "
                           f"valid: {', '.join(DECODE_OPTIONS)}")
        for name, only in UNSUPPORTED.items():
            if options.get(name, only) != only:
                raise NMTError(f"{name} is not supported by the ONNX engine; use nmt.Translator")
        cfg = DecodeConfig(**options)
        one = isinstance(texts, str)
        texts = [texts] if one else list(texts)
        if format == "html":
            from nmt import markup
            docs = [markup.parse(text) for text in texts]
            source = self.languages[0] if self.languages else None
            parts = [doc.texts(split=cfg.split_sentences, language=source) for doc in docs]
            whole = dataclasses.replace(cfg, split_sentences=False)
            done = iter(Translation(nbest[0][0], nbest[0][1].score)
                        for nbest in self.translate_stream([p for page in parts for p in page], whole))
            out = [Translation(doc.render([next(done) for _ in page]), 0.0) for doc, page in zip(docs, parts,
                                                                                                strict=True)]
            return out[0] if one else out
        pieces = [text.split("\n") for text in texts]
        results = iter(self.translate_stream([line for lines in pieces for line in lines], cfg))
        out = [join_lines([next(results) for _ in lines], self.max_src_len) for lines in pieces]
        return out[0] if one else out

    def translate_stream(self, lines: Iterable[str], cfg: DecodeConfig
                         ) -> Iterator[list[tuple[str, Hypothesis]]]:
        """For each input line, in order, its n-best list of (text, hypothesis); CHUNK_LINES at a time."""
        lines, first = iter(lines), 1
        source = self.languages[0] if self.languages else None
        while chunk := list(itertools.islice(lines, CHUNK_LINES)):
            parsed, src_ids = sentences(chunk, self.src_tok, limit=self.max_src_len,
                                        split=cfg.split_sentences, language=source, first=first,
                                        counts=self.counts)
            first += len(chunk)
            found = iter(self._translate_ids(src_ids, cfg))
            for line in parsed:
                nbests = []
                for _ in line.sentences:
                    hyps = next(found)
                    nbests.append(list(zip(self.tgt_tok.decode([h.tokens for h in hyps]), hyps, strict=True)))
                yield rejoin(line, nbests)

    def _translate_ids(self, src_ids: list[list[int]], cfg: DecodeConfig) -> list[list[Hypothesis]]:
        results: list[list[Hypothesis]] = [[Hypothesis([], 0.0, 0.0)] for _ in src_ids]
        for batch in length_batches([len(s) for s in src_ids], cfg):
            for row, hyps in zip(batch, self.search([src_ids[r] for r in batch], cfg), strict=True):
                results[row] = hyps
        return results

    def attending_model(self):
        raise NMTError("the ONNX engine does not show attention weights")
