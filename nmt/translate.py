"""Checkpoint(s) -> Translator; lines in, exactly one translation per line out, in input order."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

import torch

from nmt import NMTError, checkpoint
from nmt.config import DecodeConfig
from nmt.data import pad_sources
from nmt.model import LSTMStep, Seq2Seq, quantize_int8, reorder_state
from nmt.search import Hypothesis, beam_search, greedy_search
from nmt.tokenizer import BOS, EOS, Tokenizer

log = logging.getLogger(__name__)
CHUNK_LINES = 4096  # lines read, sorted and decoded together; bounds memory on endless pipes


class Translator:
    """One model, or an ensemble whose log-probabilities are averaged at every step."""

    def __init__(self, models: list[Seq2Seq], src_tok: Tokenizer, tgt_tok: Tokenizer,
                 device: torch.device | str = "cpu"):
        self.models = [m.eval() for m in models]
        # each model's search step: the fast LSTM step where it applies (not e.g. to int8 or GRU models)
        self.steps = [LSTMStep(m) if LSTMStep.applies(m) else m.step for m in self.models]
        self.src_tok, self.tgt_tok = src_tok, tgt_tok
        self.device = torch.device(device)
        self.reverse = models[0].cfg.reverse_source
        self.max_src_len = models[0].cfg.max_len
        self.truncated = 0

    @classmethod
    def load(cls, paths: list[str | Path], device: torch.device | str = "cpu",
             quantize: str | None = None) -> Translator:
        """quantize="int8": dynamic int8 weights for CPU decoding (see model.quantize_int8)."""
        if quantize not in (None, "int8"):
            raise NMTError(f"--quantize takes int8, got {quantize!r}")
        if quantize and torch.device(device).type != "cpu":
            raise NMTError("--quantize int8 runs on CPU only; drop it or use --device cpu")
        models, first = [], None
        for path in paths:
            model, src_tok, tgt_tok, cfg = checkpoint.build(checkpoint.load(path))
            if first is None:
                first = (src_tok, tgt_tok, cfg)
            elif src_tok.proto != first[0].proto or tgt_tok.proto != first[1].proto:
                raise NMTError(f"{path}: its tokenizers differ from the first model's; "
                               "an ensemble needs the same ones")
            elif cfg.model.reverse_source != first[2].model.reverse_source:
                raise NMTError(f"{path}: reads the source in another direction than the first model; "
                               "cannot ensemble")
            models.append(quantize_int8(model) if quantize else model.to(device))
        return cls(models, first[0], first[1], device)

    # -- search over the ensemble ------------------------------------------------------------
    def step(self, tokens: torch.Tensor, states: list) -> tuple[torch.Tensor, list]:
        outs = [step(tokens, s) for step, s in zip(self.steps, states, strict=True)]
        if len(outs) == 1:
            return outs[0][0], [outs[0][1]]
        log_probs = torch.stack([lp for lp, _ in outs]).mean(0)  # (rows, vocab)
        return log_probs, [s for _, s in outs]

    @staticmethod
    def reorder(states: list, index: torch.Tensor) -> list:
        return [reorder_state(s, index) for s in states]

    def encode(self, src_ids: list[list[int]], cfg: DecodeConfig) -> tuple[list, torch.Tensor]:
        """Search's start: each model's encoder state for a batch of non-empty id sequences, and the
        (batch,) length limits. Search then runs over `step` and `reorder`."""
        src, src_lens = pad_sources(src_ids, self.reverse)
        src = src.to(self.device)
        states = [m.encode(src, src_lens) for m in self.models]
        return states, (src_lens.double() * cfg.max_len_ratio + cfg.max_len_extra).long()

    @torch.inference_mode()
    def search(self, src_ids: list[list[int]], cfg: DecodeConfig) -> list[list[Hypothesis]]:
        """Decode one batch of non-empty id sequences: greedy for beam 1, else beam search."""
        states, max_lens = self.encode(src_ids, cfg)
        common = dict(max_lens=max_lens, bos=BOS, eos=EOS, alpha=cfg.length_penalty, norm=cfg.length_norm)
        if cfg.beam <= 1:
            return greedy_search(self.step, self.reorder, states, **common)
        return beam_search(self.step, self.reorder, states, beam=cfg.beam, n_best=cfg.n_best,
                           stop_early=cfg.stop_early, **common)

    def _batches(self, lengths: list[int], cfg: DecodeConfig) -> Iterator[list[int]]:
        """Indices of non-empty sentences, sorted by length, grouped by token and sentence budgets."""
        order = sorted((i for i, n in enumerate(lengths) if n > 0), key=lambda i: lengths[i])
        batch: list[int] = []
        for i in order:
            full = len(batch) + 1 > cfg.max_sentences or (len(batch) + 1) * lengths[i] > cfg.max_tokens
            if batch and full:
                yield batch
                batch = []
            batch.append(i)
        if batch:
            yield batch

    def translate_ids(self, src_ids: list[list[int]], cfg: DecodeConfig) -> list[list[Hypothesis]]:
        results: list[list[Hypothesis]] = [[Hypothesis([], 0.0, 0.0)] for _ in src_ids]
        for batch in self._batches([len(s) for s in src_ids], cfg):
            for i, hyps in zip(batch, self.search([src_ids[i] for i in batch], cfg), strict=True):
                results[i] = hyps
        return results

    def translate(self, lines: Iterable[str], cfg: DecodeConfig) -> Iterator[list[tuple[str, Hypothesis]]]:
        """For each input line, in order, its n-best list of (detokenized text, hypothesis)."""
        lines, first = iter(lines), 1
        while chunk := list(itertools.islice(lines, CHUNK_LINES)):
            src_ids = self.src_tok.encode(chunk)
            for k, ids in enumerate(src_ids):
                if len(ids) > self.max_src_len:
                    self.truncated += 1
                    log.warning("input line %d: %d tokens, truncated to the model's limit of %d",
                                first + k, len(ids), self.max_src_len)
                    src_ids[k] = ids[: self.max_src_len]
            first += len(chunk)
            for hyps in self.translate_ids(src_ids, cfg):
                texts = self.tgt_tok.decode([h.tokens for h in hyps])
                yield list(zip(texts, hyps, strict=True))
