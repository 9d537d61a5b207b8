"""Checkpoint(s) -> Translator: the torch engine under the text pipeline (pipeline.py); texts in, exactly
one translation per text out, in input order.

The Python API of nmt, used by `nmt translate`, `nmt evaluate` and `nmt serve` alike:

    >>> from nmt import Translator
    >>> translator = Translator.load("runs/small")          # a run folder or a checkpoint
    >>> [t.text for t in translator.translate(["Ein Hund läuft.", ""], beam=5)]
    ['A dog is running.', '']
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from nmt import NMTError, checkpoint
from nmt.config import Config, DecodeConfig, RuntimeConfig
from nmt.corpora import languages_of
from nmt.data import pad_sources
from nmt.ensemble import Ensemble, EnsembleState
from nmt.fast.allocator import keep_freed_memory
from nmt.fast.step import make_step
from nmt.hardware import native_bf16
from nmt.model import Seq2Seq
from nmt.pipeline import TextPipeline
from nmt.search.beam import beam_search, greedy_search
from nmt.search.repeats import NoRepeat
from nmt.search.scoring import Hypothesis
from nmt.shortlist import FILE as SHORTLIST_FILE
from nmt.shortlist import Shortlist, ShortlistMask
from nmt.text.lines import Counts
from nmt.text.terms import word_marks
from nmt.text.tokenizer import BOS, EOS, Tokenizer

RUNTIME_OPTIONS = [f.name for f in dataclasses.fields(RuntimeConfig)]


class Translator(TextPipeline):
    """One model, or an ensemble whose log-probabilities are averaged at every step.

    Each model runs through a Step of the fast floor (fast/step.py) in `precision`: fp32, bf16 (bf16
    matrix products; gates, cell states and the softmax stay fp32) or int8 (CPU). The models handed in
    are not changed: bf16 and int8 decode copies. shortlist: score each sentence over the target pieces
    its source pieces list (fast/shortlist.py) instead of the whole vocabulary.
    """

    def __init__(self, models: list[Seq2Seq], src_tok: Tokenizer, tgt_tok: Tokenizer,
                 device: torch.device | str = "cpu", config: Config | None = None, *,
                 precision: str = "fp32", shortlist: Shortlist | None = None):
        if any(m.training for m in models):
            raise NMTError("a Translator decodes models in eval mode; call model.eval() first")
        self.config = config  # the first model's training config (languages, sizes)
        self.precision, self.shortlist = precision, shortlist
        self.steps = [make_step(m, precision) for m in models]
        self.models = [step.model for step in self.steps]  # what decodes: the models, or their copies
        self.src_tok, self.tgt_tok = src_tok, tgt_tok
        self.device = torch.device(device)
        self.ensemble = Ensemble(self.steps, self.device)
        if self.device.type == "cpu":
            keep_freed_memory()
        self.reverse = models[0].cfg.reverse_source
        self.max_src_len = models[0].cfg.max_len
        self.counts = Counts()  # inputs too long for the model: sentences cut, words truncated
        self.languages = languages_of(config) if config is not None else None  # (source, target) codes
        # what the (first) model learnt to carry (augment.py), which decoding then uses (sources.py)
        self.placeholders = bool(config is not None and config.data.placeholders)
        self.annotates = bool(config is not None and config.data.term_share > 0)

    @classmethod
    def load(cls, paths: str | Path | list[str | Path], runtime: RuntimeConfig | None = None,
             **options) -> Translator:
        """A run folder (its best.pt) or checkpoint; several make an ensemble. runtime, or its fields as
        keywords (device, dtype, quantize, shortlist, threads; config.RuntimeConfig): how to run them.
        device: default CUDA when present, else the CPU. quantize="int8": int8 weights for CPU decoding
        (fast/quantize.py). dtype: fp32, bf16, or auto (bf16 where the hardware multiplies in it).
        shortlist: use the shortlist.bin of the first model's run folder (fast/shortlist.py)."""
        unknown = sorted(set(options) - set(RUNTIME_OPTIONS))
        if unknown:
            raise NMTError(f"unknown option {', '.join(unknown)}; valid: {', '.join(RUNTIME_OPTIONS)}")
        run = dataclasses.replace(runtime or RuntimeConfig(), **options)
        if run.threads:
            torch.set_num_threads(run.threads)
        device = run.device or ("cuda" if torch.cuda.is_available() and not run.quantize else "cpu")
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
            models.append(model if run.quantize else model.to(device))
        precision = run.quantize or ("bf16" if run.dtype == "bf16" or (
            run.dtype == "auto" and native_bf16(torch.device(device))) else "fp32")
        listed = None
        if run.shortlist:
            folder = Path(paths[0]) if Path(paths[0]).is_dir() else Path(paths[0]).parent
            listed = Shortlist.load(folder / SHORTLIST_FILE, first[0], first[1])
        return cls(models, first[0], first[1], device, config=first[2], precision=precision,
                   shortlist=listed)

    # -- search over the ensemble ------------------------------------------------------------
    def stepper(self, vocab: torch.Tensor | None):
        """Search's step function over the ensemble (ensemble.py), scoring the target ids `vocab` (n,),
        sorted and starting with the special ids (None: all): tokens (rows,) are positions in it."""
        return self.ensemble.scorer(vocab)

    reorder = staticmethod(Ensemble.reorder)

    def encode(self, src_ids: list[list[int]], cfg: DecodeConfig, mask: ShortlistMask | None = None
               ) -> tuple[EnsembleState, torch.Tensor]:
        """Search's start: the ensemble's state for a batch of non-empty id sequences (with a shortlist's
        mask, if any), and the (batch,) length limits. Search then runs over `stepper` and `reorder`."""
        src, src_lens = pad_sources(src_ids, self.reverse)
        state = self.ensemble.start(src.to(self.device), src_lens, mask)
        return state, (src_lens.double() * cfg.max_len_ratio + cfg.max_len_extra).long()

    @torch.inference_mode()
    def search(self, src_ids: list[list[int]], cfg: DecodeConfig,
               phrases: list[list[list[int]]] | None = None, attention: bool = False
               ) -> list[list[Hypothesis]]:
        """Decode one batch of non-empty id sequences: greedy for beam 1, else beam search; with
        `phrases` (each sentence's constraints, target ids), the constrained strategy (search/constraints.py)
        over the whole vocabulary, with a beam of cfg.beam. attention (a model that attends): each
        hypothesis also carries how it attended as it was decoded (over the padded source, as the encoder
        read it; the pipeline puts it in reading order)."""
        starts, joins = self.word_marks()
        vocab = mask = None
        if self.shortlist and phrases is None:
            vocab, own = self.shortlist.select(src_ids)  # (n,) ids 0..3 first; (batch, n)
            mask = ShortlistMask.of(own.to(self.device))
            starts = starts[vocab.cpu()]  # positions in the shortlist, as search sees them
        state, max_lens = self.encode(src_ids, cfg, mask)
        step = self.stepper(vocab)
        block = NoRepeat(cfg.no_repeat_ngram, starts, EOS) if cfg.no_repeat_ngram else None
        common = dict(max_lens=max_lens, bos=BOS, eos=EOS, alpha=cfg.length_penalty, norm=cfg.length_norm,
                      block=block, record_fn=Ensemble.attention if attention and self.attends else None,
                      host=lambda rows: rows.cpu())
        if cfg.beam <= 1 and phrases is None:
            found = greedy_search(step, self.reorder, state, **common)
        else:
            found = beam_search(step, self.reorder, state, beam=cfg.beam, n_best=cfg.n_best,
                                stop_early=cfg.stop_early, constraints=phrases,
                                joins=joins if phrases else None, **common)
        if vocab is not None:  # positions in the shortlist -> target ids
            ids = vocab.tolist()
            for hyps in found:
                for h in hyps:
                    h.tokens = [ids[t] for t in h.tokens]
        return found

    def word_marks(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(vocab,) bool each: the target pieces that start a word, and those that continue the word
        before them (text/terms.py)."""
        if getattr(self, "_word_marks", None) is None:
            self._word_marks = tuple(torch.tensor(marks) for marks in word_marks(self.tgt_tok))
        return self._word_marks

    @property
    def attends(self) -> bool:
        return any(m.decoder.attention is not None for m in self.models)

    def attending_model(self) -> Seq2Seq:
        """The first model that attends: the one whose weights `attention_weights` shows."""
        model = next((m for m in self.models if m.decoder.attention is not None), None)
        if model is None:
            raise NMTError("showing attention weights needs a model with attention "
                           "(model.attention in its config)")
        return model

    @torch.inference_mode()
    def attention_weights(self, src_ids: list[list[int]], targets: list[list[int]], chunk: int = 64
                          ) -> list[list[list[float]]]:
        """For each source and its translation (ids, no BOS or EOS): the attending model's weights,
        teacher-forced, one row per target piece and EOS over the source pieces in reading order."""
        model, out = self.attending_model(), []
        for start in range(0, len(src_ids), chunk):
            sources, wanted = src_ids[start : start + chunk], targets[start : start + chunk]
            src, src_lens = pad_sources(sources, self.reverse)
            state = model.encode(src.to(self.device), src_lens).float()  # the decoder's modules are fp32
            tgt_in, _ = pad_sources([[BOS, *t] for t in wanted], reverse=False)      # (rows, tgt_len + 1)
            weights = model.decoder.attention_weights(tgt_in.to(self.device), state).float().cpu()
            for row, (source, target) in enumerate(zip(sources, wanted, strict=True)):
                w = weights[row, : len(target) + 1, : len(source)]                  # (tgt_len + 1, src_len)
                out.append((w.flip(-1) if self.reverse else w).tolist())  # the encoder read it backwards
        return out
