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
        total, ntok = 0.0, 0
        for batch in self.batches:
            batch = batch.to(device)
            hidden = model(batch.src, batch.src_lens, batch.tgt_in)
            mask = batch.tgt_out != PAD
            total += float(model.output.full_loss(hidden[mask], batch.tgt_out[mask]))
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
    out = Path(out)
    saved = None
    if resume:
        last = out / "last.pt"
        if not last.is_file():
            raise NMTError(f"{out}: nothing to resume (no last.pt); start a run with --out {out}")
        saved = checkpoint.load(last)
        cfg = _resume_config(saved["config"], cfg, changed)
    elif out.exists() and any(out.glob("*.pt")):
        raise NMTError(f"{out} already holds a training run; continue it with --resume {out}, or choose another --out")
    _require_files(cfg)
    train_cfg = cfg.train
    if train_cfg.threads:
        torch.set_num_threads(train_cfg.threads)
    use_cuda = (device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
    ddp = Distributed.from_env(use_cuda)
    device = torch.device(f"cuda:{ddp.local_rank}" if use_cuda and ddp.world > 1 else device or ("cuda" if use_cuda else "cpu"))
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if ddp.main:
        out.mkdir(parents=True, exist_ok=True)
        for stale in out.glob(".*.tmp"):  # left by a process killed while saving; the real files are whole
            stale.unlink()
        _setup_logging(out)
    else:
        log.setLevel(logging.WARNING)  # rank 0 speaks for the job
    # Every rank starts from the same weights; dropout then differs per rank.
    torch.manual_seed(train_cfg.seed)

    n_train = check_parallel(cfg.data.train_src, cfg.data.train_tgt)
    if saved is not None:
        src_tok = Tokenizer(saved["src_tokenizer"], "checkpoint source tokenizer")
        tgt_tok = Tokenizer(saved["tgt_tokenizer"], "checkpoint target tokenizer")
    else:
        if ddp.main:
            _tokenizers(cfg, out)
        ddp.barrier()
        src_tok, tgt_tok = _tokenizers(cfg, out)
    if ddp.main:
        atomic_write_text(out / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        corpus, stats = prepared_or_cached(Path(cfg.data.train_src), Path(cfg.data.train_tgt), src_tok, tgt_tok,
                                           out / "prepared" / "train", cfg.model.max_len)
        if stats is not None:
            log.info("prepared %d of %d training pairs (dropped %d empty, %d longer than %d tokens)",
                     stats.kept, n_train, stats.dropped_empty, stats.dropped_long, cfg.model.max_len)
    ddp.barrier()
    corpus = PreparedCorpus(out / "prepared" / "train")
    validator = Validator(cfg.data.valid_src, cfg.data.valid_tgt, src_tok, tgt_tok, cfg) if ddp.main else None

    model = Seq2Seq(len(src_tok), len(tgt_tok), cfg.model).to(device)
    counts = saved["target_counts"] if saved is not None else target_counts(corpus, len(tgt_tok))
    use_sampled = train_cfg.loss == "sampled" and train_cfg.num_sampled < len(tgt_tok)
    sampler = Sampler.build(train_cfg.sampler, counts, train_cfg.sampler_power) if use_sampled else None
    generator = torch.Generator().manual_seed(train_cfg.seed + 7919 * ddp.rank)
    optimizer = torch.optim.Adam(model.parameters(), lr=train_cfg.lr)
    scheduler = None
    if train_cfg.schedule == "plateau":
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max" if train_cfg.metric == "bleu" else "min", factor=train_cfg.lr_decay,
            patience=train_cfg.lr_patience, min_lr=train_cfg.min_lr)
    progress = Progress()

    if saved is not None:
        model.load_state_dict(saved["model"])
        progress = Progress(**saved["progress"])
        if not reset_optimizer:
            optimizer.load_state_dict(saved["optimizer"])
            if scheduler is not None and saved.get("scheduler"):
                scheduler.load_state_dict(saved["scheduler"])
        if reset_optimizer or "train.lr" in changed:
            for group in optimizer.param_groups:
                group["lr"] = train_cfg.lr
            if scheduler is not None:
                scheduler.best, scheduler.num_bad_epochs = scheduler.mode_worse, 0
                scheduler._last_lr = [train_cfg.lr for _ in optimizer.param_groups]
        if ddp.world == 1 and saved.get("world", 1) == 1:
            torch.set_rng_state(saved["rng"]["torch"])
            generator.set_state(saved["rng"]["sampler"])
            if device.type == "cuda" and saved["rng"].get("cuda") is not None:
                torch.cuda.set_rng_state(saved["rng"]["cuda"])
        else:  # one saved state cannot serve several ranks: derive fresh ones from the position
            torch.manual_seed(train_cfg.seed + 104729 * progress.step + ddp.rank)
            generator.manual_seed(train_cfg.seed + 7919 * ddp.rank + 104729 * progress.step)
        log.info("resumed %s at step %d (epoch %d, batch %d)", out, progress.step, progress.epoch + 1,
                 progress.batch_in_epoch)
    n_params = sum(p.numel() for p in model.parameters())
    log.info("model: %s %dx%d, emb %d, %.1fM parameters, vocab %d/%d, loss %s%s, device %s, %d threads",
             cfg.model.cell, cfg.model.layers, cfg.model.hidden, cfg.model.emb, n_params / 1e6, len(src_tok),
             len(tgt_tok), "sampled" if use_sampled else "full",
             f" ({train_cfg.num_sampled} negatives, {train_cfg.sampler})" if use_sampled else "", device,
             torch.get_num_threads())
    if ddp.world > 1:
        log.info("distributed: %d processes, %d batches per update", ddp.world, ddp.world * train_cfg.accum)
        if saved is None:
            torch.manual_seed(train_cfg.seed + ddp.rank)  # weights are already equal; dropout masks differ
    objective = Objective(model, train_cfg.label_smoothing)
    if ddp.world > 1:
        objective = DistributedDataParallel(objective, device_ids=[device.index] if device.type == "cuda" else None)

    def save(name: str) -> None:
        if not ddp.main:
            return
        checkpoint.save(out / name, {"world": ddp.world,
            "config": cfg.to_dict(), "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "src_tokenizer": src_tok.proto, "tgt_tokenizer": tgt_tok.proto, "target_counts": counts,
            "progress": progress.__dict__, "step": progress.step,
            "rng": {"torch": torch.get_rng_state(), "sampler": generator.get_state(),
                    "cuda": torch.cuda.get_rng_state() if device.type == "cuda" else None},
        })

    def validate() -> bool:
        """Validate on rank 0, save checkpoints, step the schedule; True when early stopping says stop.
        Every rank gets rank 0's decision and learning rate."""
        stop, lr = ddp.from_main(list(_validate_main()) if ddp.main else [0.0, 0.0])
        for group in optimizer.param_groups:
            group["lr"] = lr
        return bool(stop)

    def _validate_main() -> tuple[float, float]:
        result = validator(model, device)
        value = result[train_cfg.metric]
        improved = _better(train_cfg.metric, value, progress.best)
        if improved:
            progress.best, progress.bad_evals = value, 0
        else:
            progress.bad_evals += 1
        if scheduler is not None:
            scheduler.step(value)
        record = {"type": "valid", "step": progress.step, "epoch": progress.epoch + 1, **result,
                  "lr": optimizer.param_groups[0]["lr"], "best": progress.best, "time": time.time()}
        meter.write(record)
        log.info("validation step %d | loss %.3f | ppl %.2f | bleu %.2f%s", progress.step, result["loss"], result["ppl"],
                 result.get("bleu", float("nan")), " | new best" if improved else f" | {progress.bad_evals} without improvement")
        save(f"step_{progress.step}.pt")
        if improved:
            save("best.pt")
        save("last.pt")
        for old in sorted(out.glob("step_*.pt"), key=lambda p: int(p.stem.split("_")[1]))[:-train_cfg.keep_last or None]:
            old.unlink()
        stop = bool(train_cfg.patience) and progress.bad_evals >= train_cfg.patience
        return float(stop), optimizer.param_groups[0]["lr"]

    meter = Meter(out, cfg, progress.step, enabled=ddp.main)
    src_lens, tgt_lens = corpus.lengths("src"), corpus.lengths("tgt")
    started, reason, bad_steps = time.time(), "max_epochs", 0
    # One update consumes `group` batches: `accum` on each of `world` processes (rank r takes r, r + world, ...).
    group = ddp.world * train_cfg.accum
    model.train()
    with Interrupt() as interrupt:
        while progress.epoch < train_cfg.max_epochs and reason == "max_epochs":
            batches = token_batches(src_lens, tgt_lens, train_cfg.max_tokens, train_cfg.seed, progress.epoch)
            # an incomplete last group is skipped: every process must take part in every update
            while progress.batch_in_epoch + group <= len(batches):
                chunk = batches[progress.batch_in_epoch : progress.batch_in_epoch + group]
                total_tokens = sum(int(tgt_lens[b].sum()) + len(b) for b in chunk)  # the whole update's, EOS included
                mine = chunk[ddp.rank :: ddp.world]
                optimizer.zero_grad(set_to_none=True)
                loss_sum = 0.0
                for k, index in enumerate(mine):
                    batch = make_batch([corpus.sentence("src", i) for i in index],
                                       [corpus.sentence("tgt", i) for i in index], cfg.model.reverse_source).to(device)
                    # gradients are averaged over processes by DDP, so scale by world / all tokens of the update
                    sync = k == len(mine) - 1 or ddp.world == 1
                    with (contextlib.nullcontext() if sync else objective.no_sync()), \
                            torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                        part = batch_loss(objective, batch, cfg, sampler, generator)
                        (part * (ddp.world / total_tokens)).backward()
                    loss_sum += float(part.detach())
                out_of_time = bool(train_cfg.max_minutes and time.time() - started >= train_cfg.max_minutes * 60)
                # one all-reduce per update: the loss for the log, and whether any process must stop
                loss_sum, signalled, timed_out = ddp.sum([loss_sum, float(interrupt.signal is not None), float(out_of_time)])
                grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), train_cfg.clip)
                progress.batch_in_epoch += group
                if not (math.isfinite(loss_sum) and torch.isfinite(grad_norm)):
                    bad_steps += 1
                    log.warning("step %d: loss or gradient is %s; update skipped", progress.step + 1, loss_sum)
                    if bad_steps >= train_cfg.max_bad_steps:
                        save("last.pt")
                        raise NMTError(f"{bad_steps} steps in a row had a NaN/inf loss; stopped. {out / 'last.pt'} holds the "
                                       "last good parameters: lower train.lr or train.clip and resume with --resume")
                    continue
                bad_steps = 0
                optimizer.step()
                progress.step += 1
                meter.add(loss_sum, total_tokens)
                meter.tick(progress.step, optimizer.param_groups[0]["lr"])
                if train_cfg.valid_every and progress.step % train_cfg.valid_every == 0 and validate():
                    reason = "early_stopping"
                elif train_cfg.max_steps and progress.step >= train_cfg.max_steps:
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
                if not train_cfg.valid_every and validate():
                    reason = "early_stopping"
    meter.tick(progress.step, optimizer.param_groups[0]["lr"], force=True)
    save("last.pt")
    elapsed = time.time() - started
    ddp.barrier()
    log.info("stopped: %s at step %d after %.1f min; checkpoints in %s", reason.replace("_", " "), progress.step,
             elapsed / 60, out)
    return {"reason": reason, "step": progress.step, "epoch": progress.epoch, "best": progress.best,
            "minutes": elapsed / 60, "signal": interrupt.signal}
