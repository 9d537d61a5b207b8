"""The training loop: the only place where data, model and softmax meet.

A run folder holds everything:  config.yaml, tokenizers/, prepared/, train.log, metrics.jsonl,
last.pt (newest), best.pt (best validation metric), step_N.pt (the last `keep_last`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import yaml
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from nmt import NMTError, checkpoint
from nmt.config import Config, DecodeConfig, from_dict
from nmt.corpus import PreparedCorpus, prepared_or_cached
from nmt.data import Batch, make_batch, token_batches
from nmt.evaluate import corpus_bleu
from nmt.fileio import atomic_write_text, check_parallel, read_lines
from nmt.model import Seq2Seq
from nmt.softmax import Sampler
from nmt.tokenizer import EOS, PAD, Tokenizer, load_tokenizers, train_tokenizers
from nmt.translate import Translator

log = logging.getLogger("nmt")


@dataclass
class Progress:
    """Where training stands; saved in every checkpoint so a resume continues exactly here."""
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0          # batches of `epoch` already trained on
    best: float | None = None        # best value of the chosen metric
    bad_evals: int = 0               # validations since the best one


class Interrupt:
    """Turns SIGINT/SIGTERM into a flag the loop checks between steps, so a checkpoint is saved."""

    def __init__(self):
        self.signal: int | None = None
        self._old = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread (e.g. inside some test runners)
                pass
        return self

    def _handle(self, signum, frame):
        self.signal = signum

    def __exit__(self, *exc):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


class Meter:
    """Prints progress: a live line on a terminal, plain log lines otherwise; JSON lines always."""

    def __init__(self, out: Path, cfg: Config, start_step: int, enabled: bool = True):
        self.cfg, self.metrics, self.enabled = cfg, out / "metrics.jsonl", enabled
        self.live = sys.stderr.isatty()
        self.t0 = self.t_last = time.time()
        self.start_step = start_step
        self.loss = self.tokens = 0.0
        self.n = 0
        self.updates_left: int | None = None  # set by the loop: updates until max_epochs

    def add(self, loss_sum: float, ntokens: int) -> None:
        self.loss += loss_sum
        self.tokens += ntokens
        self.n += 1

    def write(self, record: dict) -> None:
        if not self.enabled:
            return
        with open(self.metrics, "a") as f:
            f.write(json.dumps(record) + "\n")

    def eta(self, step: int) -> str:
        train = self.cfg.train
        rate = (step - self.start_step) / max(1e-9, time.time() - self.t0)
        left = []
        if train.max_steps:
            left.append((train.max_steps - step) / max(rate, 1e-9))
        if train.max_minutes:
            left.append(train.max_minutes * 60 - (time.time() - self.t0))
        if self.updates_left is not None:  # up to max_epochs, if nothing stops the run earlier
            left.append(self.updates_left / max(rate, 1e-9))
        if not left:
            return "?"
        return time.strftime("%H:%M:%S", time.gmtime(max(0, min(left))))

    def tick(self, step: int, lr: float, force: bool = False) -> None:
        if self.n == 0 or not self.enabled:
            return
        loss = self.loss / max(1, self.tokens)
        tps = self.tokens / max(1e-9, time.time() - self.t_last)
        line = (f"step {step} | loss {loss:.3f} | ppl {math.exp(min(loss, 50)):.1f} | lr {lr:.2e} | "
                f"{tps:.0f} tok/s | eta {self.eta(step)}")
        if self.live:
            print("\r" + line + " " * 4, end="", file=sys.stderr, flush=True)
        if force or step % self.cfg.train.log_every == 0:
            if self.live:
                print(file=sys.stderr)
            logging.getLogger("nmt.file").info(line) if self.live else log.info(line)
            self.write({"type": "train", "step": step, "loss": loss, "ppl": math.exp(min(loss, 50)), "lr": lr,
                        "tok_per_s": tps, "time": time.time()})
            self.loss = self.tokens = 0.0
            self.n = 0
            self.t_last = time.time()


def _setup_logging(out: Path) -> None:
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    handler = logging.FileHandler(out / "train.log")
    handler.setFormatter(fmt)
    for name in ("nmt", "nmt.file"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        logger.handlers = [h for h in logger.handlers if not isinstance(h, logging.FileHandler)]
        logger.addHandler(handler)
    logging.getLogger("nmt.file").propagate = False


def target_counts(corpus: PreparedCorpus, vocab: int) -> torch.Tensor:
    """(vocab,) how often each target piece occurs, EOS counted once per sentence: the sampler's data."""
    counts = np.bincount(np.asarray(corpus.bins["tgt"]), minlength=vocab).astype(np.float64)
    counts[EOS] += len(corpus)
    return torch.from_numpy(counts)


def make_optimizer(model: nn.Module, lr: float) -> torch.optim.Optimizer:
    """Adam, fused: one kernel updates every tensor. The default loops over small ops per tensor, and
    with a large vocabulary the dense update of the output and embedding matrices becomes a good
    share of each step (64k words, sampled softmax: 2,645 -> 3,776 target tokens/s)."""
    return torch.optim.Adam(model.parameters(), lr=lr, fused=True)


def native_bf16(device: torch.device) -> bool:
    """Whether bfloat16 matrix products run in hardware here: a GPU, or a CPU with AVX512-BF16 or AMX.
    Elsewhere bf16 is emulated and slower than fp32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    caps = torch.cpu.get_capabilities() if hasattr(torch.cpu, "get_capabilities") else {}
    return bool(caps.get("avx512_bf16") or caps.get("amx_bf16"))


class Objective(nn.Module):
    """The training loss as one module, so DistributedDataParallel sees every parameter used in forward."""

    def __init__(self, model: Seq2Seq, label_smoothing: float):
        super().__init__()
        self.model, self.label_smoothing = model, label_smoothing

    def forward(self, batch: Batch, negatives: torch.Tensor | None, log_q_neg: torch.Tensor | None,
                sampler: Sampler | None, num_sampled: int) -> torch.Tensor:
        """Summed loss over the batch's real target tokens (divide by the token count for the mean)."""
        hidden = self.model(batch.src, batch.src_lens, batch.tgt_in)  # (batch, tgt_len, hidden)
        mask = batch.tgt_out != PAD
        h, y = hidden[mask], batch.tgt_out[mask]                       # (n, hidden), (n,)
        if negatives is None:
            return self.model.output.full_loss(h, y, self.label_smoothing)
        return self.model.output.sampled_loss(h, y, negatives, log_q_neg, sampler.log_expected(y, num_sampled),
                                              self.label_smoothing)


def batch_loss(objective: nn.Module, batch: Batch, cfg: Config, sampler: Sampler | None,
               generator: torch.Generator | None) -> torch.Tensor:
    """Summed loss of one batch: full softmax, or sampled with one set of negatives for the whole batch."""
    if sampler is None:
        return objective(batch, None, None, None, 0)
    num = cfg.train.num_sampled
    negatives = sampler.sample(num, generator).to(batch.tgt_out.device)  # (S,)
    return objective(batch, negatives, sampler.log_expected(negatives, num), sampler, num)


@dataclass
class Distributed:
    """This process's place in a torchrun job (rank 0 of 1 when run alone)."""
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, cuda: bool) -> "Distributed":
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        if not dist.is_initialized():
            dist.init_process_group("nccl" if cuda else "gloo")
        return cls(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def sum(self, values: list[float]) -> list[float]:
        if self.world == 1:
            return values
        t = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(t)
        return t.tolist()

    def from_main(self, values: list[float]) -> list[float]:
        if self.world == 1:
            return values
        t = torch.tensor(values, dtype=torch.float64)
        dist.broadcast(t, 0)
        return t.tolist()


class Validator:
    """Full-softmax loss and perplexity, and greedy BLEU, on the validation set."""

    def __init__(self, src_path: str, tgt_path: str, src_tok: Tokenizer, tgt_tok: Tokenizer, cfg: Config):
        check_parallel(src_path, tgt_path)
        self.src_lines, self.refs = list(read_lines(src_path)), list(read_lines(tgt_path))
        max_len = cfg.model.max_len
        self.src_ids = [s[:max_len] for s in src_tok.encode(self.src_lines)]
        tgt_ids = [t[:max_len] for t in tgt_tok.encode(self.refs)]
        pairs = [(s, t) for s, t in zip(self.src_ids, tgt_ids) if s and t]
        s_len = np.array([len(s) for s, _ in pairs])
        t_len = np.array([len(t) for _, t in pairs])
        self.batches = [make_batch([pairs[i][0] for i in b], [pairs[i][1] for i in b], cfg.model.reverse_source)
                        for b in token_batches(s_len, t_len, cfg.train.max_tokens, seed=0, epoch=0)]
        self.src_tok, self.tgt_tok, self.cfg = src_tok, tgt_tok, cfg

    @torch.inference_mode()
    def __call__(self, model: Seq2Seq, device: torch.device, want_bleu: bool = True) -> dict:
        model.eval()
        objective = Objective(model, label_smoothing=0.0)  # the plain full-softmax cross-entropy
        total, ntok = 0.0, 0
        for batch in self.batches:
            total += float(batch_loss(objective, batch.to(device), self.cfg, None, None))
            ntok += batch.ntokens
        result = {"loss": total / ntok, "ppl": math.exp(min(total / ntok, 50))}
        if want_bleu:
            translator = Translator([model], self.src_tok, self.tgt_tok, device)
            hyps = translator.translate_ids(self.src_ids, DecodeConfig(beam=1))
            result["bleu"] = corpus_bleu(self.tgt_tok.decode([h[0].tokens for h in hyps]), self.refs)
        model.train()
        return result


def _better(metric: str, value: float, best: float | None) -> bool:
    if best is None:
        return True
    return value > best if metric == "bleu" else value < best


def _require_files(cfg: Config) -> None:
    d = cfg.data
    for key in ("train_src", "train_tgt", "valid_src", "valid_tgt"):
        value = getattr(d, key)
        if not value:
            raise NMTError(f"data.{key} is not set; give --{key.replace('_', '-')} FILE or set it in the config")
        if not Path(value).is_file():
            raise NMTError(f"data.{key}: {value}: no such file (for Multi30k run `nmt data multi30k --out data/multi30k`)")


def _tokenizers(cfg: Config, out: Path) -> tuple[Tokenizer, Tokenizer]:
    if cfg.data.tokenizers:
        return load_tokenizers(cfg.data.tokenizers)
    folder = out / "tokenizers"
    if not (folder / "src.model").is_file():
        log.info("training tokenizers (vocab %d, %s) into %s", cfg.data.vocab_size, cfg.data.model_type, folder)
        train_tokenizers(Path(cfg.data.train_src), Path(cfg.data.train_tgt), folder, cfg.data.vocab_size,
                         cfg.data.model_type, cfg.data.joint, seed=cfg.train.seed)
    return load_tokenizers(folder)


def _resume_config(saved: dict, overrides: Config | None, changed: set[str]) -> Config:
    cfg = from_dict(saved)
    if overrides is None:
        return cfg
    for key in sorted(changed):
        section, name = key.split(".", 1)
        if section != "train":
            raise NMTError(f"{key} cannot change on resume (only train.* settings can); start a new run instead")
        setattr(cfg.train, name, getattr(overrides.train, name))
    return cfg


def run(cfg: Config, out: Path, resume: bool = False, changed: set[str] = frozenset(),
        reset_optimizer: bool = False, device: str | None = None) -> dict:
    """Train (or resume) a run in `out`. `changed`: keys the user set on the command line.

    Returns a summary with the reason the run stopped: max_steps, max_minutes, max_epochs,
    early_stopping or interrupted.
    """
    return Trainer(cfg, Path(out), resume, changed, reset_optimizer, device).train()


class Trainer:
    """One training run: set up from a config (or a run folder to resume), then `train()`."""

    def __init__(self, cfg: Config, out: Path, resume: bool, changed: set[str], reset_optimizer: bool,
                 device: str | None):
        saved = None
        if resume:
            if not (out / "last.pt").is_file():
                raise NMTError(f"{out}: nothing to resume (no last.pt); start a run with --out {out}")
            saved = checkpoint.load(out / "last.pt")
            cfg = _resume_config(saved["config"], cfg, changed)
        elif out.exists() and any(out.glob("*.pt")):
            raise NMTError(f"{out} already holds a training run; continue it with --resume {out}, or choose another --out")
        _require_files(cfg)
        self.cfg, self.out, t = cfg, out, cfg.train
        if t.threads:
            torch.set_num_threads(t.threads)
        use_cuda = (device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
        self.ddp = ddp = Distributed.from_env(use_cuda)
        if use_cuda:
            self.device = torch.device(f"cuda:{ddp.local_rank}" if ddp.world > 1 else device or "cuda")
            torch.cuda.set_device(self.device)
        else:
            self.device = torch.device("cpu")
        if ddp.main:
            out.mkdir(parents=True, exist_ok=True)
            for stale in out.glob(".*.tmp"):  # left by a process killed while saving; the real files are whole
                stale.unlink()
            _setup_logging(out)
        else:
            log.setLevel(logging.WARNING)  # rank 0 speaks for the job
        torch.manual_seed(t.seed)  # every rank builds the same initial weights

        self.src_tok, self.tgt_tok = self._tokenizers(saved)
        self.corpus = self._corpus()
        self.src_lens, self.tgt_lens = self.corpus.lengths("src"), self.corpus.lengths("tgt")  # (pairs,) each
        self.validator = Validator(cfg.data.valid_src, cfg.data.valid_tgt, self.src_tok, self.tgt_tok, cfg) if ddp.main else None

        self.model = Seq2Seq(len(self.src_tok), len(self.tgt_tok), cfg.model).to(self.device)
        self.counts = saved["target_counts"] if saved is not None else target_counts(self.corpus, len(self.tgt_tok))
        use_sampled = t.loss == "sampled" and t.num_sampled < len(self.tgt_tok)
        self.sampler = Sampler.build(t.sampler, self.counts, t.sampler_power) if use_sampled else None
        self.generator = torch.Generator().manual_seed(t.seed + 7919 * ddp.rank)
        self.optimizer = make_optimizer(self.model, t.lr)
        self.scheduler = None
        if t.schedule == "plateau":
            self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                self.optimizer, mode="max" if t.metric == "bleu" else "min", factor=t.lr_decay,
                patience=t.lr_patience, min_lr=t.min_lr)
        self.progress = Progress()
        if saved is not None:
            self._restore(saved, reset_optimizer or "train.lr" in changed, reset_optimizer)
        elif ddp.world > 1:
            torch.manual_seed(t.seed + ddp.rank)  # weights are already equal; dropout masks differ per rank
        # bf16 autocast: matrix products (LSTM gates, output layer) in bfloat16, weights and optimizer in fp32
        self.bf16 = t.dtype == "bf16" or (t.dtype == "auto" and native_bf16(self.device))
        n_params = sum(p.numel() for p in self.model.parameters())
        log.info("model: %s %dx%d, emb %d, %.1fM parameters, vocab %d/%d, loss %s%s, device %s, %s, %d threads",
                 cfg.model.cell, cfg.model.layers, cfg.model.hidden, cfg.model.emb, n_params / 1e6, len(self.src_tok),
                 len(self.tgt_tok), "sampled" if use_sampled else "full",
                 f" ({t.num_sampled} negatives, {t.sampler})" if use_sampled else "", self.device,
                 "bf16 autocast" if self.bf16 else "fp32", torch.get_num_threads())
        self.objective: nn.Module = Objective(self.model, t.label_smoothing)
        if ddp.world > 1:
            log.info("distributed: %d processes, %d batches per update", ddp.world, ddp.world * t.accum)
            self.objective = DistributedDataParallel(
                self.objective, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.meter = Meter(out, cfg, self.progress.step, enabled=ddp.main)

    # -- set-up ---------------------------------------------------------------------------------
    def _tokenizers(self, saved: dict | None) -> tuple[Tokenizer, Tokenizer]:
        if saved is not None:
            return (Tokenizer(saved["src_tokenizer"], "checkpoint source tokenizer"),
                    Tokenizer(saved["tgt_tokenizer"], "checkpoint target tokenizer"))
        if self.ddp.main:
            _tokenizers(self.cfg, self.out)  # trains them if needed, once
        self.ddp.barrier()
        return _tokenizers(self.cfg, self.out)

    def _corpus(self) -> PreparedCorpus:
        """The binarized training data, prepared by rank 0 (or reused from the run folder)."""
        d, folder = self.cfg.data, self.out / "prepared" / "train"
        n_train = check_parallel(d.train_src, d.train_tgt)
        if self.ddp.main:
            atomic_write_text(self.out / "config.yaml", yaml.safe_dump(self.cfg.to_dict(), sort_keys=False))
            _, stats = prepared_or_cached(Path(d.train_src), Path(d.train_tgt), self.src_tok, self.tgt_tok, folder,
                                          self.cfg.model.max_len)
            if stats is not None:
                log.info("prepared %d of %d training pairs (dropped %d empty, %d longer than %d tokens)",
                         stats.kept, n_train, stats.dropped_empty, stats.dropped_long, self.cfg.model.max_len)
        self.ddp.barrier()
        return PreparedCorpus(folder)

    def _restore(self, saved: dict, new_lr: bool, reset_optimizer: bool) -> None:
        t, ddp = self.cfg.train, self.ddp
        self.model.load_state_dict(saved["model"])
        self.progress = Progress(**saved["progress"])
        if not reset_optimizer:
            self.optimizer.load_state_dict(saved["optimizer"])
            if self.scheduler is not None and saved.get("scheduler"):
                self.scheduler.load_state_dict(saved["scheduler"])
        if new_lr:
            for group in self.optimizer.param_groups:
                group["lr"] = t.lr
            if self.scheduler is not None:
                self.scheduler.best, self.scheduler.num_bad_epochs = self.scheduler.mode_worse, 0
                self.scheduler._last_lr = [t.lr for _ in self.optimizer.param_groups]
        if ddp.world == 1 and saved.get("world", 1) == 1:
            torch.set_rng_state(saved["rng"]["torch"])
            self.generator.set_state(saved["rng"]["sampler"])
            if self.device.type == "cuda" and saved["rng"].get("cuda") is not None:
                torch.cuda.set_rng_state(saved["rng"]["cuda"])
        else:  # one saved state cannot serve several ranks: derive fresh ones from the position
            step = self.progress.step
            torch.manual_seed(t.seed + 104729 * step + ddp.rank)
            self.generator.manual_seed(t.seed + 7919 * ddp.rank + 104729 * step)
        log.info("resumed %s at step %d (epoch %d, batch %d)", self.out, self.progress.step, self.progress.epoch + 1,
                 self.progress.batch_in_epoch)

    # -- checkpoints and validation ---------------------------------------------------------------
    def save(self, name: str) -> None:
        if not self.ddp.main:
            return
        checkpoint.save(self.out / name, {
            "config": self.cfg.to_dict(), "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "src_tokenizer": self.src_tok.proto, "tgt_tokenizer": self.tgt_tok.proto, "target_counts": self.counts,
            "progress": self.progress.__dict__, "step": self.progress.step, "world": self.ddp.world,
            "rng": {"torch": torch.get_rng_state(), "sampler": self.generator.get_state(),
                    "cuda": torch.cuda.get_rng_state() if self.device.type == "cuda" else None},
        })

    def validate(self) -> bool:
        """Validate on rank 0, save checkpoints, step the schedule; True when early stopping says stop.
        Every rank gets rank 0's decision and learning rate."""
        stop, lr = self.ddp.from_main(list(self._validate_main()) if self.ddp.main else [0.0, 0.0])
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return bool(stop)

    def _validate_main(self) -> tuple[float, float]:
        t, progress = self.cfg.train, self.progress
        result = self.validator(self.model, self.device)
        value = result[t.metric]
        improved = _better(t.metric, value, progress.best)
        if improved:
            progress.best, progress.bad_evals = value, 0
        else:
            progress.bad_evals += 1
        if self.scheduler is not None:
            self.scheduler.step(value)
        lr = self.optimizer.param_groups[0]["lr"]
        self.meter.write({"type": "valid", "step": progress.step, "epoch": progress.epoch + 1, **result, "lr": lr,
                          "best": progress.best, "time": time.time()})
        log.info("validation step %d | loss %.3f | ppl %.2f | bleu %.2f%s", progress.step, result["loss"], result["ppl"],
                 result.get("bleu", float("nan")),
                 " | new best" if improved else f" | {progress.bad_evals} without improvement")
        self.save(f"step_{progress.step}.pt")
        if improved:
            self.save("best.pt")
        self.save("last.pt")
        steps = sorted(self.out.glob("step_*.pt"), key=lambda p: int(p.stem.split("_")[1]))
        for old in steps[: -t.keep_last or None]:
            old.unlink()
        return float(bool(t.patience) and progress.bad_evals >= t.patience), lr

    # -- the loop -----------------------------------------------------------------------------------
    def _accumulate(self, chunk: list[np.ndarray]) -> tuple[float, int]:
        """Forward and backward over this process's share of one update's batches.

        Returns this process's summed loss and the whole update's target tokens (EOS included).
        Gradients end up as those of the mean loss over every token of the update: DDP averages
        over processes, so each part is scaled by world / all tokens.
        """
        world = self.ddp.world
        total_tokens = sum(int(self.tgt_lens[b].sum()) + len(b) for b in chunk)
        mine = chunk[self.ddp.rank :: world]
        loss_sum = 0.0
        for k, index in enumerate(mine):
            batch = make_batch([self.corpus.sentence("src", i) for i in index],
                               [self.corpus.sentence("tgt", i) for i in index],
                               self.cfg.model.reverse_source).to(self.device)
            sync = k == len(mine) - 1 or world == 1  # DDP exchanges gradients once, after the last part
            with (contextlib.nullcontext() if sync else self.objective.no_sync()), \
                    torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                part = batch_loss(self.objective, batch, self.cfg, self.sampler, self.generator)
                (part * (world / total_tokens)).backward()
            loss_sum += float(part.detach())
        return loss_sum, total_tokens

    def train(self) -> dict:
        t, progress, ddp = self.cfg.train, self.progress, self.ddp
        started, reason, bad_steps = time.time(), "max_epochs", 0
        if t.max_steps and progress.step >= t.max_steps:  # e.g. resumed with a limit already reached
            reason = "max_steps"
        # One update takes `group` batches: `accum` on each of `world` processes (rank r takes r, r + world, ...).
        group = ddp.world * t.accum
        self.model.train()
        with Interrupt() as interrupt:
            while progress.epoch < t.max_epochs and reason == "max_epochs":
                batches = token_batches(self.src_lens, self.tgt_lens, t.max_tokens, t.seed, progress.epoch)
                # an incomplete last group is skipped: every process must take part in every update
                while progress.batch_in_epoch + group <= len(batches):
                    self.optimizer.zero_grad(set_to_none=True)
                    loss_sum, tokens = self._accumulate(batches[progress.batch_in_epoch : progress.batch_in_epoch + group])
                    out_of_time = bool(t.max_minutes and time.time() - started >= t.max_minutes * 60)
                    # one all-reduce per update: the loss for the log, and whether any process must stop
                    loss_sum, signalled, timed_out = ddp.sum([loss_sum, float(interrupt.signal is not None),
                                                              float(out_of_time)])
                    grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), t.clip)
                    progress.batch_in_epoch += group
                    if not (math.isfinite(loss_sum) and torch.isfinite(grad_norm)):
                        bad_steps += 1
                        log.warning("step %d: loss or gradient is %s; update skipped", progress.step + 1, loss_sum)
                        if bad_steps >= t.max_bad_steps:
                            self.save("last.pt")
                            raise NMTError(f"{bad_steps} steps in a row had a NaN/inf loss; stopped. {self.out / 'last.pt'} "
                                           "holds the last good parameters: lower train.lr or train.clip and resume with --resume")
                        continue
                    bad_steps = 0
                    self.optimizer.step()
                    progress.step += 1
                    self.meter.add(loss_sum, tokens)
                    per_epoch = len(batches) // group
                    self.meter.updates_left = ((t.max_epochs - progress.epoch) * per_epoch
                                               - progress.batch_in_epoch // group)
                    self.meter.tick(progress.step, self.optimizer.param_groups[0]["lr"])
                    if t.valid_every and progress.step % t.valid_every == 0 and self.validate():
                        reason = "early_stopping"
                    elif t.max_steps and progress.step >= t.max_steps:
                        reason = "max_steps"
                    elif timed_out:
                        reason = "max_minutes"
                    elif signalled:
                        reason = "interrupted"
                    if reason != "max_epochs":
                        break
                else:
                    progress.epoch += 1
                    progress.batch_in_epoch = 0
                    if not t.valid_every and self.validate():
                        reason = "early_stopping"
        self.meter.tick(progress.step, self.optimizer.param_groups[0]["lr"], force=True)
        self.save("last.pt")
        elapsed = time.time() - started
        ddp.barrier()
        log.info("stopped: %s at step %d after %.1f min; checkpoints in %s", reason.replace("_", " "), progress.step,
                 elapsed / 60, self.out)
        return {"reason": reason, "step": progress.step, "epoch": progress.epoch, "best": progress.best,
                "minutes": elapsed / 60, "signal": interrupt.signal}
