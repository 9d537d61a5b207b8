"""Training throughput of the shipped 2x512 config next to a bare PyTorch loop and the machine's ceiling.

In one process, on the same Multi30k de->en batches, after a few warm-up steps each:
  ceiling    matrix-multiply GFLOP/s at the model's shapes, fp32 and bf16
  reference  bench/reference.py: plain nn.LSTM encoder-decoder, full softmax, fp32
  nmt        full and sampled softmax, fp32 and bf16 autocast
Model FLOP/s counts the matrix products of forward and backward (3x forward) over real tokens.
On a machine with CUDA everything runs on the GPU (batches moved there before the clock starts).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from bench import reference
from bench.common import DATA, ROOT, WORK, report, require_data, sync
from nmt.config import Config, load
from nmt.corpus import prepared_or_cached
from nmt.data import Batch, make_batch, token_batches
from nmt.mixture import target_counts
from nmt.model import Seq2Seq
from nmt.text.tokenizer import load_tokenizers, train_tokenizers
from nmt.training.objective import Objective, make_optimizer
from nmt.training.update import clip_and_step, forward_backward

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def matmul_gflops(m: int, k: int, n: int, dtype: torch.dtype, device: torch.device,
                  seconds: float = 1.0) -> float:
    """GFLOP/s of (m, k) @ (k, n) in `dtype`, repeated for about `seconds`."""
    a, b = torch.randn(m, k, device=device).to(dtype), torch.randn(k, n, device=device).to(dtype)
    for _ in range(3):
        a @ b
    sync(device)
    reps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(10):
            a @ b
        sync(device)
        reps += 10
    return 2 * m * k * n * reps / (time.perf_counter() - start) / 1e9


def ceiling(cfg: Config, vocab: int, batch_rows: int, tokens: int, device: torch.device
            ) -> tuple[dict, list[dict]]:
    """Best matmul GFLOP/s per dtype over the shapes the model multiplies, and one row per shape."""
    h, e = cfg.model.hidden, cfg.model.emb
    shapes = {"square, the machine's best case": (2048, 2048, 2048),
              "gates, all steps (tokens x emb -> 4h)": (tokens, e, 4 * h),
              "gates, one step (rows x h -> 4h)": (batch_rows, h, 4 * h),
              "output (tokens x h -> vocab)": (tokens, h, vocab)}
    rows, best = [], {}
    for dtype in DTYPES:
        for what, (m, k, n) in shapes.items():
            g = matmul_gflops(m, k, n, DTYPES[dtype], device)
            best[dtype] = max(best.get(dtype, 0.0), g)
            rows.append({"what": f"matmul {what}", "dtype": dtype, "shape": f"{m}x{k}x{n}", "gflops": g})
    return best, rows


def train_flops(cfg: Config, batch: Batch, vocab: int, scored: int) -> float:
    """Matrix-product FLOPs of one training step (forward + backward = 3x forward) over real tokens.
    `scored`: output rows per target token (the vocabulary, or 1 + negatives when sampled)."""
    h, e, layers = cfg.model.hidden, cfg.model.emb, cfg.model.layers
    per_token = sum(2 * 4 * h * ((e if i == 0 else h) + h) for i in range(layers))  # LSTM gates, all layers
    src_tokens = int(batch.src_lens.sum())
    return 3 * (src_tokens * per_token + batch.ntokens * (per_token + 2 * h * scored))


def nmt_speed(cfg: Config, batches: list[Batch], vocab: tuple[int, int], *, loss: str, dtype: str,
              counts: torch.Tensor, warmup: int) -> tuple[float, float]:
    """(target tokens/s, model GFLOP/s) of `nmt`'s own training update (training/update.py, what the
    trainer runs: forward and backward, clipping, Adam) on `batches` (on their device), one per update."""
    torch.manual_seed(0)
    cfg.train.loss = loss
    device = batches[0].src.device
    model = Seq2Seq(vocab[0], vocab[1], cfg.model).to(device)
    objective = Objective.from_config(model, cfg.train, counts)
    opt = make_optimizer(model, cfg.train.lr)
    scored = cfg.train.num_sampled + 1 if objective.sampler is not None else vocab[1]
    gen = torch.Generator().manual_seed(0)
    tokens, flops, start = 0, 0.0, 0.0
    for k, batch in enumerate(batches):
        if k == warmup:
            sync(device)
            start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss_sum = forward_backward(objective, [batch], total_tokens=batch.ntokens, generator=gen,
                                    bf16=dtype == "bf16")
        clip_and_step(model, opt, clip=cfg.train.clip, loss_sum=loss_sum)
        if k >= warmup:
            tokens += batch.ntokens
            flops += train_flops(cfg, batch, vocab[1], scored)
    sync(device)
    seconds = time.perf_counter() - start
    return tokens / seconds, flops / seconds / 1e9


def load_batches(cfg: Config, tok_dir: Path, prepared: Path, count: int, src: str = "train.de",
                 tgt: str = "train.en") -> tuple[list[Batch], tuple[int, int], torch.Tensor]:
    """The first `count` seeded training batches, the (source, target) vocabulary sizes, target counts."""
    if not (tok_dir / "src.model").exists():
        train_tokenizers(DATA / src, DATA / tgt, tok_dir, vocab_size=cfg.data.vocab_size)
    src_tok, tgt_tok = load_tokenizers(tok_dir)
    corpus, _ = prepared_or_cached(DATA / src, DATA / tgt, src_tok, tgt_tok, prepared, cfg.model.max_len)
    order = token_batches(corpus.lengths("src"), corpus.lengths("tgt"), cfg.train.max_tokens, seed=1, epoch=0)
    batches = [make_batch([corpus.sentence("src", i) for i in b], [corpus.sentence("tgt", i) for i in b],
                          cfg.model.reverse_source) for b in order[:count]]
    return batches, (len(src_tok), len(tgt_tok)), torch.from_numpy(target_counts(corpus, len(tgt_tok)))


def main(steps: int = 30, warmup: int = 5) -> None:
    require_data()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    rows: list[dict] = []
    best = None
    for config in ("configs/multi30k-de-en.yaml", "configs/multi30k-de-en-attention.yaml"):
        cfg = load(ROOT / config)
        v = cfg.data.vocab_size
        batches, vocab, counts = load_batches(cfg, WORK / f"tok{v}", WORK / f"prepared{v}", warmup + steps)
        batches = [b.to(device) for b in batches]
        m = cfg.model
        attention = m.attention != "none"
        model_name = f"{m.layers}x{m.hidden} emb {m.emb}" + (f", {m.attention} attention" * attention)
        if best is None:  # the machine's ceiling, at the first config's shapes
            widest = max(len(b.src_lens) for b in batches)
            best, ceiling_rows = ceiling(cfg, vocab[1], widest, cfg.train.max_tokens, device)
            rows += [{"model": model_name, **r} for r in ceiling_rows]
        counted = not attention and not m.bidirectional  # train_flops counts the plain model's products
        ref_tps, _ = reference.train_speed(batches, vocab[0], vocab[1], m.emb, m.hidden, m.layers, m.dropout,
                                           cfg.train.lr, cfg.train.clip, warmup, attention=attention)
        ref_gflops = ref_tps * sum(train_flops(cfg, b, vocab[1], vocab[1]) for b in batches[warmup:]) \
            / sum(b.ntokens for b in batches[warmup:]) / 1e9 if counted else None
        rows.append({"model": model_name, "what": "bare PyTorch loop, full softmax", "dtype": "fp32",
                     "tgt_tok_per_s": ref_tps, "gflops": ref_gflops,
                     "of_ceiling": ref_gflops / best["fp32"] if counted else None, "vs_reference": 1.0})
        for dtype in ("fp32", "bf16"):
            for loss in ("full", "sampled"):
                tps, gflops = nmt_speed(cfg, batches, vocab, loss=loss, dtype=dtype, counts=counts,
                                        warmup=warmup)
                name = "full softmax" if loss == "full" else f"sampled softmax ({cfg.train.num_sampled})"
                rows.append({"model": model_name, "what": f"nmt, {name}", "dtype": dtype,
                             "tgt_tok_per_s": tps, "gflops": gflops if counted else None,
                             "of_ceiling": gflops / best[dtype] if counted else None,
                             "vs_reference": tps / ref_tps})
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    report("train_speed", [{"steps": steps, "device": where, **r} for r in rows],
           ["model", "what", "dtype", "shape", "tgt_tok_per_s", "gflops", "of_ceiling", "vs_reference"])


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
