"""Translate with an exported model (nmt/export.py) on ONNX Runtime, NumPy and sentencepiece: no PyTorch.

    >>> from nmt.lite import Translator
    >>> translator = Translator.load("exported/")          # the folder `nmt export` wrote
    >>> [t.text for t in translator.translate(["Ein Hund läuft.", ""], beam=5)]
    ['A dog is running.', '']

The engine under the same text pipeline as nmt.Translator (pipeline.py): one Translation per text, in
order; lines, sentences, HTML, kept spans, glossaries and constraints alike; the same search rules
(lite/search.py, with search/constraints.py's strategy and search/repeats.py's block). Attention weights
(HTML's inline elements placed on their words, `attention=True`) come from the decoder graph's attention
output, which exports since this version have. Not here: ensembles and shortlists (use nmt.Translator).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from nmt import NMTError
from nmt.config import DecodeConfig
from nmt.lite.search import beam_search, greedy_search
from nmt.pipeline import TextPipeline
from nmt.search.repeats import NoRepeat
from nmt.search.scoring import Hypothesis
from nmt.text.lines import Counts
from nmt.text.terms import word_marks
from nmt.text.tokenizer import Tokenizer

META = "nmt-export.json"


def regroup(rows: np.ndarray, per: int, sources: int) -> tuple[np.ndarray | None, int]:
    """nmt/regroup.regroup in NumPy (see its worked example; tests/test_lite.py compares the two): where
    per-source arrays go when search keeps `rows` of a layout with `per` rows for each of `sources`
    sources, and the rows per source after (None: all sources, unchanged)."""
    if len(rows) == 0:
        return rows, 1
    owner = rows // per
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    kept, counts = owner[starts], np.diff(np.r_[starts, len(owner)])
    if not (counts == counts[0]).all():
        return owner, 1
    if len(kept) == sources and (kept[1:] > kept[:-1]).all():
        return None, int(counts[0])
    return kept, int(counts[0])


class Translator(TextPipeline):

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
        outputs = self.names["decoder_out"]  # where the step's other outputs are (None: absent)
        self._at = {name: outputs.index(name) if name in outputs else None
                    for name in ("attention", "top_values", "top_ids")}
        self.reverse, self.max_src_len = self.meta["reverse_source"], self.meta["max_len"]
        self.languages = tuple(self.meta["languages"]) if self.meta.get("languages") else None
        self.counts = Counts()
        self.placeholders = self.meta.get("placeholders", False)  # what the model learnt (sources.py)
        self.annotates = self.meta.get("annotates", False)
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
        if "source" in self.names["decoder_in"]:  # exported before rows read their source by layout
            out["source"] = np.arange(len(src_ids), dtype=np.int64)
        elif "memory" in self.names["decoder_in"]:
            out["per"] = 1  # rows per source (regroup.py's layout)
        if "k" in self.names["decoder_in"]:
            out["k"] = np.array([1], dtype=np.int64)  # how many best pieces per row the graph ranks
        if "feed" in self.names["decoder_in"]:
            out["feed"] = np.zeros((len(src_ids), self.meta["hidden"]), dtype=np.float32)
        return out, lens

    def step(self, tokens: np.ndarray, state: dict) -> tuple[np.ndarray, dict]:
        feeds = {name: (tokens if name == "tokens" else state[name]) for name in self.names["decoder_in"]}
        outputs = self.decoder.run(None, feeds)
        return outputs[0], self._advanced(state, outputs)

    def _advanced(self, state: dict, outputs: list[np.ndarray]) -> dict:
        """The state after a step: its recurrent state (and feed) from the graph's *_out outputs."""
        new = dict(state)
        for name, value in zip(self.names["decoder_out"], outputs, strict=True):
            if name.endswith("_out"):
                new[name.removesuffix("_out")] = value
            elif name == "attention":  # (rows, src_len): how the step attended, for search to record
                new["weights"] = value
        if self._at["top_ids"] is not None:  # each row's k best (values, ids), ranked by the graph
            new["ranked"] = outputs[self._at["top_values"]], outputs[self._at["top_ids"]]
        return new

    @staticmethod
    def reorder(state: dict, rows: np.ndarray) -> dict:
        """Follow rows: recurrent state (layers, rows, hidden), feed (rows, ...); what a source holds
        (memory, keys, mask) stays once per source, its rows together (regroup; with older exports each
        row's `source` says which it reads)."""
        out = dict(state)
        for name in ("h", "c"):
            if name in out:
                out[name] = out[name][:, rows]
        for name in ("feed", "source"):
            if name in out:
                out[name] = out[name][rows]
        if "per" in out:
            kept, out["per"] = regroup(rows, out["per"], len(out["memory"]))
            if kept is not None:
                for name in ("memory", "keys", "mask"):
                    out[name] = out[name][kept]
        out.pop("weights", None)  # the last step's, read by search before it reorders
        out.pop("ranked", None)
        return out

    def search(self, src_ids: list[list[int]], cfg: DecodeConfig,
               phrases: list[list[list[int]]] | None = None, attention: bool = False
               ) -> list[list[Hypothesis]]:
        """One batch of non-empty id sequences (pipeline.py's engine contract): greedy for beam 1, else
        beam search; with `phrases`, the constrained strategy. attention (a graph that attends): each
        hypothesis also carries how it attended as it was decoded (as the torch engine's search)."""
        starts, joins = self.word_marks()
        state, lens = self.encode(src_ids)
        max_lens = (lens.astype(np.float64) * cfg.max_len_ratio + cfg.max_len_extra).astype(np.int64)
        block = NoRepeat(cfg.no_repeat_ngram, starts, self.eos) if cfg.no_repeat_ngram else None
        if "k" in state:  # the graph ranks what the plain strategy reads: the best k + 1 (beam), 1 (greedy)
            state["k"] = np.array([1 if cfg.beam <= 1 else min(cfg.beam + 1, self.meta["vocab"][1])],
                                  dtype=np.int64)
        common = dict(max_lens=max_lens, bos=self.bos, eos=self.eos, alpha=cfg.length_penalty,
                      norm=cfg.length_norm, block=block,
                      record_fn=(lambda s: s["weights"]) if attention and self.attends else None,
                      ranked_fn=(lambda s: s.get("ranked")))
        if cfg.beam <= 1 and phrases is None:
            found = greedy_search(self.step, self.reorder, state, **common)
        else:
            found = beam_search(self.step, self.reorder, state, beam=cfg.beam, n_best=cfg.n_best,
                                stop_early=cfg.stop_early, constraints=phrases,
                                joins=joins if phrases else None, **common)
        return found

    def word_marks(self) -> tuple[list[bool], np.ndarray]:
        """The target pieces that start a word (a list, as NoRepeat takes it) and those that continue the
        word before them ((vocab,) bool, as the constrained strategy masks with it); text/terms.py."""
        if getattr(self, "_word_marks", None) is None:
            starts, joins = word_marks(self.tgt_tok)
            self._word_marks = starts, np.asarray(joins, dtype=bool)
        return self._word_marks

    @property
    def attends(self) -> bool:
        return "attention" in self.names["decoder_out"]

    def attention_weights(self, src_ids: list[list[int]], targets: list[list[int]], chunk: int = 64
                          ) -> list[list[list[float]]]:
        """For each source and its translation (ids, no BOS or EOS): the decoder graph's attention
        weights, teacher-forced, one row per target piece and EOS over the source pieces in reading
        order (the torch engine's attention_weights, from the graphs)."""
        self.require_attention()
        out = []
        for start in range(0, len(src_ids), chunk):
            sources, wanted = src_ids[start : start + chunk], targets[start : start + chunk]
            state, _ = self.encode(sources)
            steps = max(len(t) for t in wanted) + 1
            fed = np.full((len(wanted), steps), self.eos, dtype=np.int64)   # BOS, the target, then anything
            fed[:, 0] = self.bos
            for row, target in enumerate(wanted):
                fed[row, 1 : len(target) + 1] = target
            rows = []
            for t in range(steps):
                outputs = self.decoder.run(None, {name: (fed[:, t] if name == "tokens" else state[name])
                                                  for name in self.names["decoder_in"]})
                state = self._advanced(state, outputs)
                rows.append(outputs[self._at["attention"]])                   # (rows, src_len)
            weights = np.stack(rows, 1)                                      # (rows, steps, src_len)
            for row, (source, target) in enumerate(zip(sources, wanted, strict=True)):
                w = weights[row, : len(target) + 1, : len(source)]
                out.append((w[:, ::-1] if self.reverse else w).tolist())  # the encoder read it backwards
        return out
