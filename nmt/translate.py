"""Checkpoint(s) -> Translator; texts in, exactly one translation per text out, in input order.

The Python API of nmt, used by `nmt translate`, `nmt evaluate` and `nmt serve` alike:

    >>> from nmt import Translator
    >>> translator = Translator.load("runs/small")          # a run folder or a checkpoint
    >>> [t.text for t in translator.translate(["Ein Hund läuft.", ""], beam=5)]
    ['A dog is running.', '']
"""

from __future__ import annotations

import ctypes
import dataclasses
import itertools
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from nmt import NMTError, checkpoint
from nmt.attention import follow
from nmt.config import CHOICES, Config, DecodeConfig
from nmt.data import pad_sources
from nmt.distributed import native_bf16
from nmt.model import LSTMStep, Seq2Seq, is_int8, quantize_int8, reorder_state
from nmt.search import Hypothesis, beam_search, greedy_search
from nmt.shortlist import FILE as SHORTLIST_FILE
from nmt.shortlist import Shortlist
from nmt.tokenizer import BOS, EOS, Tokenizer

log = logging.getLogger(__name__)
CHUNK_LINES = 4096  # lines read, sorted and decoded together; bounds memory on endless pipes
DECODE_OPTIONS = [f.name for f in dataclasses.fields(DecodeConfig)]
DTYPES = CHOICES[("decode", "dtype")]


@dataclass
class Translation:
    """One text's translation: the best hypothesis and, with n_best > 1, the others, best first."""
    text: str
    score: float  # length-normalised log-probability (the mean over a text's lines)
    alternatives: list[Translation] = field(default_factory=list)


@dataclass
class Listed:
    """With a shortlist: per sentence, -inf where it lacks a piece of the batch's union, else 0; search row
    r belongs to sentence r // per (attention.follow keeps it so as the beam moves)."""
    outside: torch.Tensor  # (sentences, n)
    per: int = 1

    @classmethod
    def of(cls, own: torch.Tensor) -> Listed:
        """own: (sentences, n) bool, True where the sentence lists the piece."""
        return cls(torch.zeros(own.shape, device=own.device).masked_fill_(~own, float("-inf")))

    def reorder(self, index: torch.Tensor) -> Listed:
        kept, per = follow(index, self.per, self.outside.size(0))
        return Listed(self.outside if kept is None else self.outside.index_select(0, kept), per)


class Translator:
    """One model, or an ensemble whose log-probabilities are averaged at every step.

    dtype: torch.float32, or torch.bfloat16 for bf16 matrix products (the models' encoders, and what
    attention reads of them, are cast to it here; gates, cell states and the softmax stay fp32).
    shortlist: score each sentence over the target pieces its source pieces list (shortlist.py) instead
    of the whole vocabulary.
    """

    def __init__(self, models: list[Seq2Seq], src_tok: Tokenizer, tgt_tok: Tokenizer,
                 device: torch.device | str = "cpu", config: Config | None = None, *,
                 dtype: torch.dtype = torch.float32, shortlist: Shortlist | None = None):
        self.config = config  # the first model's training config (languages, sizes)
        self.models = [m.eval() for m in models]
        self.dtype, self.shortlist = dtype, shortlist
        for m in self.models if dtype != torch.float32 else ():
            m.encoder.to(dtype)  # cast once, not at every batch as autocast would
            if m.decoder.attention is not None and m.decoder.attention.kind != "dot":
                m.decoder.attention.key.to(dtype)
        self._all_rows: list | None = None  # each model's output layer arranged for decoding (stepper)
        # each model's search step: the fast LSTM step where it applies (not e.g. to int8 or GRU models)
        self.steps = [LSTMStep(m, torch.qint8 if is_int8(m) else dtype) if LSTMStep.applies(m)
                      else self._autocast(m.step) for m in self.models]
        self.src_tok, self.tgt_tok = src_tok, tgt_tok
        self.device = torch.device(device)
        if self.device.type == "cpu":
            _keep_freed_memory()
        self.reverse = models[0].cfg.reverse_source
        self.max_src_len = models[0].cfg.max_len
        self.truncated = 0

    @classmethod
    def load(cls, paths: str | Path | list[str | Path], *, device: torch.device | str | None = None,
             quantize: str | None = None, dtype: str = DTYPES[0], shortlist: bool = False) -> Translator:
        """A run folder (its best.pt) or checkpoint; several make an ensemble.
        device: default CUDA when present, else the CPU. quantize="int8": int8 weights for CPU decoding
        (see model.quantize_int8). dtype: fp32, bf16, or auto (bf16 where the hardware multiplies in it).
        shortlist: use the shortlist.bin of the first model's run folder (see shortlist.py)."""
        if quantize not in (None, "int8"):
            raise NMTError(f"--quantize takes int8, got {quantize!r}")
        if dtype not in DTYPES:
            raise NMTError(f"--dtype takes {', '.join(DTYPES)}, got {dtype!r}")
        if quantize and dtype == "bf16":
            raise NMTError("--dtype bf16 and --quantize int8 do not combine (int8 kernels keep their own "
                           "precision); choose one")
        if device is None:
            device = "cuda" if torch.cuda.is_available() and not quantize else "cpu"
        if quantize and torch.device(device).type != "cpu":
            raise NMTError("--quantize int8 runs on CPU only; drop it or use --device cpu")
        paths = [paths] if isinstance(paths, (str, Path)) else paths
        if not paths:
            raise NMTError("give at least one model")
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
        bf16 = dtype == "bf16" or (dtype == "auto" and not quantize and native_bf16(torch.device(device)))
        listed = None
        if shortlist:
            folder = Path(paths[0]) if Path(paths[0]).is_dir() else Path(paths[0]).parent
            listed = Shortlist.load(folder / SHORTLIST_FILE, first[0], first[1])
        return cls(models, first[0], first[1], device, config=first[2],
                   dtype=torch.bfloat16 if bf16 else torch.float32, shortlist=listed)

    def _autocast(self, step):
        """A model's own step, its products in self.dtype (autocast) when that is not fp32."""
        if self.dtype == torch.float32:
            return step

        def cast(tokens, state, output):
            with torch.autocast(self.device.type, dtype=self.dtype):
                return step(tokens, state, output)
        return cast

    # -- search over the ensemble ------------------------------------------------------------
    def stepper(self, vocab: torch.Tensor | None):
        """The search's step function over the ensemble, scoring the target ids `vocab` (n,), sorted and
        starting with the special ids (None: all): tokens (rows,) are positions in it. With a vocab, the
        states end with a Listed: each row's own list, over which its log-probabilities are normalised."""
        if vocab is None:  # the whole vocabulary: arranged once
            self._all_rows = self._all_rows or [m.output.rows(None, self.dtype) for m in self.models]
        outputs = self._all_rows if vocab is None else [m.output.rows(vocab, self.dtype) for m in self.models]
        table = None if vocab is None else vocab.to(self.device)

        def step(tokens: torch.Tensor, states: list) -> tuple[torch.Tensor, list]:
            listed = states[-1] if table is not None else None
            ids = tokens if table is None else table[tokens]
            own = states[:-1] if listed is not None else states  # each model's state
            scored = (outputs if listed is None
                      else [out.masked(listed.outside, listed.per) for out in outputs])
            outs = [f(ids, s, out) for f, s, out in zip(self.steps, own, scored, strict=True)]
            log_probs = [lp for lp, _ in outs]
            mean = log_probs[0] if len(outs) == 1 else torch.stack(log_probs).mean(0)  # (rows, n)
            return mean, [s for _, s in outs] + ([listed] if listed is not None else [])
        return step

    @staticmethod
    def reorder(states: list, index: torch.Tensor) -> list:
        return [s.reorder(index) if isinstance(s, Listed) else reorder_state(s, index) for s in states]

    def encode(self, src_ids: list[list[int]], cfg: DecodeConfig) -> tuple[list, torch.Tensor]:
        """Search's start: each model's encoder state for a batch of non-empty id sequences, and the
        (batch,) length limits. Search then runs over `stepper` and `reorder`."""
        src, src_lens = pad_sources(src_ids, self.reverse)
        src = src.to(self.device)
        states = [m.encode(src, src_lens, key=getattr(step, "key", None))
                  for m, step in zip(self.models, self.steps, strict=True)]
        return states, (src_lens.double() * cfg.max_len_ratio + cfg.max_len_extra).long()

    @torch.inference_mode()
    def search(self, src_ids: list[list[int]], cfg: DecodeConfig) -> list[list[Hypothesis]]:
        """Decode one batch of non-empty id sequences: greedy for beam 1, else beam search."""
        states, max_lens = self.encode(src_ids, cfg)
        vocab = None
        if self.shortlist:
            vocab, own = self.shortlist.select(src_ids)  # (n,) ids 0..3 first; (batch, n)
            states.append(Listed.of(own.to(self.device)))
        step = self.stepper(vocab)
        common = dict(max_lens=max_lens, bos=BOS, eos=EOS, alpha=cfg.length_penalty, norm=cfg.length_norm)
        if cfg.beam <= 1:
            found = greedy_search(step, self.reorder, states, **common)
        else:
            found = beam_search(step, self.reorder, states, beam=cfg.beam, n_best=cfg.n_best,
                                stop_early=cfg.stop_early, **common)
        if vocab is not None:  # positions in the shortlist -> target ids
            ids = vocab.tolist()
            for hyps in found:
                for h in hyps:
                    h.tokens = [ids[t] for t in h.tokens]
        return found

    def attending_model(self) -> Seq2Seq:
        """The first model that attends: the one whose weights `alignments` shows."""
        model = next((m for m in self.models if m.decoder.attention is not None), None)
        if model is None:
            raise NMTError("showing attention weights needs a model with attention "
                           "(model.attention in its config)")
        return model

    @torch.inference_mode()
    def alignments(self, lines: list[str], hyps: list[Hypothesis], chunk: int = 64) -> list[dict]:
        """How each translation attended to its source, by the first model that attends: {"source":
        source pieces, "target": target pieces and "</s>", "weights": one row per target piece, one
        column per source piece (in reading order), each row summing to 1}."""
        model = self.attending_model()
        src_ids = [ids[: self.max_src_len] for ids in self.src_tok.encode(lines)]
        records = [{"source": [], "target": [], "weights": []} for _ in lines]
        todo = [i for i, ids in enumerate(src_ids) if ids]
        for start in range(0, len(todo), chunk):
            rows = todo[start : start + chunk]
            src, src_lens = pad_sources([src_ids[i] for i in rows], self.reverse)
            state = model.encode(src.to(self.device), src_lens).float()  # the decoder's modules are fp32
            targets = [[BOS, *hyps[i].tokens] for i in rows]
            tgt_in, _ = pad_sources(targets, reverse=False)                      # (rows, tgt_len + 1)
            weights = model.decoder.attention_weights(tgt_in.to(self.device), state).float().cpu()
            for row, i in enumerate(rows):
                w = weights[row, : len(targets[row]), : len(src_ids[i])]         # (tgt_len + 1, src_len)
                w = w.flip(-1) if self.reverse else w  # the encoder read it backwards
                records[i] = {"source": self.src_tok.pieces(src_ids[i]),
                              "target": [*self.tgt_tok.pieces(hyps[i].tokens), "</s>"],
                              "weights": [[round(x, 4) for x in r] for r in w.tolist()]}
        return records

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

    def translate(self, texts: str | Iterable[str], **options) -> Translation | list[Translation]:
        """Translate a text, or a list of texts: exactly one Translation each, in order.

        options: any DecodeConfig field (beam, n_best, length_penalty, max_sentences, ...); the rest
        keep DecodeConfig's defaults. A text holding several lines is translated line by line and
        joined again, so line breaks survive.
        """
        unknown = sorted(set(options) - set(DECODE_OPTIONS))
        if unknown:
            raise NMTError(f"unknown decoding option {', '.join(unknown)}; "
                           f"valid: {', '.join(DECODE_OPTIONS)}")
        cfg = DecodeConfig(**options)
        one = isinstance(texts, str)
        texts = [texts] if one else list(texts)
        pieces = [text.split("\n") for text in texts]  # lines of each text
        results = iter(self.translate_stream([line for lines in pieces for line in lines], cfg))
        out = [_join([next(results) for _ in lines]) for lines in pieces]
        return out[0] if one else out

    def translate_stream(self, lines: Iterable[str], cfg: DecodeConfig
                         ) -> Iterator[list[tuple[str, Hypothesis]]]:
        """For each input line, in order, its n-best list of (detokenized text, hypothesis). Lines are
        read CHUNK_LINES at a time, so an endless pipe streams."""
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


def _keep_freed_memory() -> None:
    """Have the C allocator keep large freed blocks for reuse (glibc; elsewhere nothing changes).

    Each search step makes and drops a few (rows, vocab) tensors, 40 MB at 320 rows and 32,000 pieces.
    glibc hands blocks over its mmap threshold (which adapts up to 32 MB) back to the kernel on free and
    maps fresh pages on the next request, so every step pays for page faults and zeroing: measured on a
    2-core EPYC, x + 1 on (1280, 7931) took 12.9 ms that way and 1.9 ms with the memory kept, and beam
    search with 32,000 pieces 16.2 s against 13.1 s. The cost: the process keeps its largest size."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError, TypeError):  # not glibc (TypeError: Windows takes no None)
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_mmap_threshold, 1 << 30)
    mallopt(m_trim_threshold, 1 << 30)


def _join(lines: list[list[tuple[str, Hypothesis]]]) -> Translation:
    """One text's Translation from its lines' n-best lists: alternative k joins each line's k-th best
    (a line with fewer hypotheses gives its last)."""
    k = max(len(nbest) for nbest in lines)
    ranked = [Translation("\n".join(nbest[min(i, len(nbest) - 1)][0] for nbest in lines),
                          sum(nbest[min(i, len(nbest) - 1)][1].score for nbest in lines) / len(lines))
              for i in range(k)]
    ranked[0].alternatives = ranked[1:]
    return ranked[0]
