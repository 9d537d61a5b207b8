"""Training throughput (target tokens/s) of the shipped 2x512 config, full vs sampled softmax.

Both losses train on the same batches of Multi30k de->en in the same process, one after the other,
after a few warm-up steps, so the ratio is fair even on a busy machine.
"""

from __future__ import annotations

import sys
import time

import torch

from bench.common import DATA, ROOT, report, require_data
from nmt.config import load
from nmt.corpus import prepared_or_cached
from nmt.data import make_batch, token_batches
from nmt.model import Seq2Seq
from nmt.softmax import Sampler
from nmt.tokenizer import load_tokenizers, train_tokenizers
from nmt.train import Objective, batch_loss, target_counts

WORK = ROOT / "bench" / "work"


def main(steps: int = 30, warmup: int = 5, config: str = "configs/multi30k-de-en.yaml") -> None:
    require_data()
    cfg = load(ROOT / config)
    tok = WORK / f"tok{cfg.data.vocab_size}"
    if not (tok / "src.model").exists():
        train_tokenizers(DATA / "train.de", DATA / "train.en", tok, vocab_size=cfg.data.vocab_size)
    src_tok, tgt_tok = load_tokenizers(tok)
    corpus, _ = prepared_or_cached(DATA / "train.de", DATA / "train.en", src_tok, tgt_tok,
                                   WORK / f"prepared{cfg.data.vocab_size}", cfg.model.max_len)
    order = token_batches(corpus.lengths("src"), corpus.lengths("tgt"), cfg.train.max_tokens, seed=1, epoch=0)
    batches = [make_batch([corpus.sentence("src", i) for i in b], [corpus.sentence("tgt", i) for i in b],
                          cfg.model.reverse_source) for b in order[: warmup + steps]]
    counts = target_counts(corpus, len(tgt_tok))
    rows = []
    for loss in ("full", "sampled"):
        torch.manual_seed(0)
        cfg.train.loss = loss
        model = Seq2Seq(len(src_tok), len(tgt_tok), cfg.model)
        objective = Objective(model, cfg.train.label_smoothing)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.train.lr)
        sampler = Sampler.build(cfg.train.sampler, counts, cfg.train.sampler_power) if loss == "sampled" else None
        gen = torch.Generator().manual_seed(0)
        tokens, start = 0, None
        for k, batch in enumerate(batches):
            if k == warmup:
                start = time.perf_counter()
            out = batch_loss(objective, batch, cfg, sampler, gen) / batch.ntokens
            opt.zero_grad()
            out.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.clip)
            opt.step()
            if k >= warmup:
                tokens += batch.ntokens
        seconds = time.perf_counter() - start
        rows.append({"model": f"{cfg.model.layers}x{cfg.model.hidden} emb {cfg.model.emb}", "vocab": len(tgt_tok),
                     "loss": loss + (f" ({cfg.train.num_sampled})" if loss == "sampled" else ""),
                     "steps": steps, "tgt_tok_per_s": tokens / seconds})
    rows[1]["vs_full"] = rows[1]["tgt_tok_per_s"] / rows[0]["tgt_tok_per_s"]
    report("train_speed", rows, ["model", "vocab", "loss", "steps", "tgt_tok_per_s", "vs_full"])


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
