"""Validation during training: full-softmax loss and perplexity, and greedy BLEU, on each validation set."""

from __future__ import annotations

import math

import numpy as np
import torch

from nmt.config import Config, DecodeConfig
from nmt.corpora import valid_sets
from nmt.data import make_batch, token_batches
from nmt.evaluate import corpus_bleu
from nmt.fileio import check_parallel, read_lines
from nmt.model import Seq2Seq
from nmt.text.tokenizer import Tokenizer
from nmt.training.objective import Objective
from nmt.translate import Translator


def better(metric: str, value: float, best: float | None) -> bool:
    """Whether `value` of `metric` improves on `best` (higher BLEU, lower loss or perplexity)."""
    if best is None:
        return True
    return value > best if metric == "bleu" else value < best


class Validator:
    """The validation set, read and batched once; called with the model at each validation."""

    def __init__(self, src_path: str, tgt_path: str, src_tok: Tokenizer, tgt_tok: Tokenizer, cfg: Config):
        check_parallel(src_path, tgt_path)
        self.refs = list(read_lines(tgt_path))
        max_len = cfg.model.max_len
        self.src_ids = [s[:max_len] for s in src_tok.encode(list(read_lines(src_path)))]
        tgt_ids = [t[:max_len] for t in tgt_tok.encode(self.refs)]
        pairs = [(s, t) for s, t in zip(self.src_ids, tgt_ids, strict=True) if s and t]
        s_len = np.array([len(s) for s, _ in pairs])
        t_len = np.array([len(t) for _, t in pairs])
        self.batches = [make_batch([pairs[i][0] for i in b], [pairs[i][1] for i in b],
                                   cfg.model.reverse_source)
                        for b in token_batches(s_len, t_len, cfg.train.max_tokens, seed=0, epoch=0)]
        self.src_tok, self.tgt_tok = src_tok, tgt_tok

    @torch.inference_mode()
    def __call__(self, model: Seq2Seq, device: torch.device) -> dict:
        """{"loss": mean per target token, "ppl", "bleu": greedy sacreBLEU}; leaves the model training."""
        model.eval()
        objective = Objective(model)  # the plain full-softmax cross-entropy, whatever training uses
        total = sum(float(objective(batch.to(device))) for batch in self.batches)
        loss = total / sum(batch.ntokens for batch in self.batches)
        translator = Translator([model], self.src_tok, self.tgt_tok, device)
        hyps = translator.translate_ids(self.src_ids, DecodeConfig(beam=1))
        bleu = corpus_bleu(self.tgt_tok.decode([h[0].tokens for h in hyps]), self.refs)
        model.train()
        return {"loss": loss, "ppl": math.exp(min(loss, 50)), "bleu": bleu}


class Validation:
    """Every validation set of a run (data.valid, or valid_src/valid_tgt), each read once. A call scores
    them all and gives their mean, which train.metric follows: {"loss": the mean loss, "ppl": exp of it,
    "bleu": the mean BLEU, "sets": {name: {"loss", "ppl", "bleu"}}}."""

    def __init__(self, cfg: Config, src_tok: Tokenizer, tgt_tok: Tokenizer):
        self.sets = {v.name: Validator(v.src, v.tgt, src_tok, tgt_tok, cfg) for v in valid_sets(cfg.data)}

    def __call__(self, model: Seq2Seq, device: torch.device) -> dict:
        results = {name: validator(model, device) for name, validator in self.sets.items()}
        loss = sum(r["loss"] for r in results.values()) / len(results)
        bleu = sum(r["bleu"] for r in results.values()) / len(results)
        return {"loss": loss, "ppl": math.exp(min(loss, 50)), "bleu": bleu, "sets": results}
