"""The training loop: the only place where data, model and softmax meet.

`Trainer` wires the parts together: the run folder (rundir.py), processes and device
(distributed.py), the loss and optimizer (objective.py), validation (validate.py) and what the user
sees (progress.py). `Trainer.train` is the loop: one update after another until a limit is reached.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from nmt import NMTError, checkpoint, shortlist
from nmt.config import Config
from nmt.data import make_batch, token_batches
from nmt.mixture import Epoch, Mixture, shares
from nmt.model import Seq2Seq
from nmt.training import distributed, progress, rundir
from nmt.training.objective import Objective, make_optimizer, make_scheduler
from nmt.training.rundir import TrainState
from nmt.training.update import clip_and_step, forward_backward
from nmt.training.validate import Validation, better

log = logging.getLogger(__name__)


class Interrupt:
    """Turns SIGINT/SIGTERM into a flag the loop checks between steps, so a checkpoint is saved."""

    def __init__(self):
        self.signal: int | None = None
        self._old = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread (e.g. inside some test runners)
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signal = signum

    def __exit__(self, *exc):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def run(cfg: Config, out: str | Path, *, resume: bool = False, changed: set[str] = frozenset(),
        reset_optimizer: bool = False, device: str | None = None) -> dict:
    """Train (or resume) a run in `out`. `changed`: keys the user set on the command line.

    Returns a summary with the reason the run stopped: max_steps, max_minutes, max_epochs,
    early_stopping or interrupted.
    """
    # the folder is held for the whole run, by rank 0 alone under torchrun
    with rundir.exclusive(Path(out)) if distributed.launched_rank() == 0 else contextlib.nullcontext():
        trainer = Trainer(cfg, Path(out), resume=resume, changed=changed, reset_optimizer=reset_optimizer,
                          device=device)
        return trainer.train()


class Trainer:
    """One training run: set up from a config (or a run folder to resume), then `train()`."""

    def __init__(self, cfg: Config, out: Path, *, resume: bool = False, changed: set[str] = frozenset(),
                 reset_optimizer: bool = False, device: str | None = None):
        cfg, saved = rundir.open_run(out, cfg, resume=resume, changed=changed)
        t = cfg.train
        if t.threads:
            torch.set_num_threads(t.threads)
        self.ddp, self.device = ddp, device = distributed.start(device)
        if ddp.main:
            rundir.create(out)
            progress.setup_logging(out)
        else:
            progress.quiet()
        torch.manual_seed(t.seed)  # every rank builds the same initial weights
        self.cfg, self.out = cfg, out
        files = rundir.training_texts(cfg, out, ddp=ddp)
        self.tokenizers = src_tok, tgt_tok = rundir.tokenizers(cfg, out, files, saved=saved, ddp=ddp)
        corpora = rundir.training_corpora(cfg, out, files, src_tok, tgt_tok, ddp=ddp)
        if ddp.main and shortlist.ensure(out / shortlist.FILE, corpora, src_tok, tgt_tok):
            log.info("built the decoding shortlist %s", out / shortlist.FILE)
        share = shares([len(c) for c in corpora], [c.weight for c in files], cfg.data.temperature)
        self.mixture = Mixture(corpora, share)
        if len(corpora) > 1:
            log.info("an epoch draws %s", ", ".join(
                f"{c.name} {n:,} pairs ({100 * s:.1f}%, {n / len(p):.2f} times its {len(p):,})"
                for c, n, p, s in zip(files, self.mixture.counts, corpora, share, strict=True)))
        # what each epoch reads: the sampled segmentations in turn (subword regularisation), else the corpora
        variants = rundir.sampled_corpora(cfg, out, files, src_tok, tgt_tok, ddp=ddp)
        self.epoch_mixtures = [Mixture(variant, share) for variant in variants] or [self.mixture]
        self.validator = Validation(cfg, src_tok, tgt_tok) if ddp.main else None

        model = Seq2Seq(len(src_tok), len(tgt_tok), cfg.model).to(device)
        if saved is not None:
            self.counts = saved["target_counts"]
        else:
            self.counts = torch.from_numpy(self.mixture.target_counts(len(tgt_tok)))
        self.objective = Objective.from_config(model, t, self.counts)
        optimizer = make_optimizer(model, t.lr)
        generator = torch.Generator().manual_seed(rundir.sampler_seed(t.seed, ddp.rank))
        self.state = TrainState(model, optimizer, make_scheduler(optimizer, t), generator)
        if saved is not None:
            new_lr = reset_optimizer or "train.lr" in changed
            self.state.restore(saved, lr=t.lr if new_lr else None, reset_optimizer=reset_optimizer,
                               seed=t.seed, ddp=ddp)
            at = self.state.progress
            log.info("resumed %s at step %d (epoch %d, batch %d)", out, at.step, at.epoch + 1,
                     at.batch_in_epoch)
        elif ddp.world > 1:
            torch.manual_seed(t.seed + ddp.rank)  # weights are already equal; dropout masks differ per rank
        self.bf16 = distributed.use_bf16(t.dtype, device)
        self._describe()
        self.loss_fn = ddp.wrap(self.objective, device)
        self.meter = progress.Meter(out, t, self.state.progress.step, enabled=ddp.main)
        self.bad_steps = 0  # NaN/inf updates in a row
        self.updates_per_epoch = 0
        self.validated_at: int | None = None  # the step of the last validation
        self.valid_seconds = 0.0  # how long it took: the time budget keeps that much for a last one

    def _describe(self) -> None:
        m, t, model = self.cfg.model, self.cfg.train, self.state.model
        sampled = self.objective.sampler is not None
        log.info("model: %s %dx%d, emb %d, %.1fM parameters, vocab %d/%d, loss %s%s, device %s, %s, "
                 "%d threads",
                 m.cell, m.layers, m.hidden, m.emb, sum(p.numel() for p in model.parameters()) / 1e6,
                 len(self.tokenizers[0]), len(self.tokenizers[1]), "sampled" if sampled else "full",
                 f" ({t.num_sampled} negatives, {t.sampler})" if sampled else "", self.device,
                 "bf16 autocast" if self.bf16 else "fp32", torch.get_num_threads())
        if self.ddp.world > 1:
            log.info("distributed: %d processes, %d batches per update", self.ddp.world,
                     self.ddp.world * t.accum)

    # -- checkpoints and validation ---------------------------------------------------------------
    def save(self, name: str) -> None:
        if self.ddp.main:
            checkpoint.save(self.out / name, self.state.payload(cfg=self.cfg, tokenizers=self.tokenizers,
                                                                counts=self.counts, world=self.ddp.world))

    def validate(self, last: bool = False) -> bool:
        """Validate on rank 0, save checkpoints, step the schedule; True when early stopping says stop.
        Every rank gets rank 0's decision, learning rate and the validation's duration. The `last`
        validation of a run stopped by a limit leaves the schedule and the patience count alone, so that
        a run resumed from there trains exactly as if it had not stopped."""
        start = time.time()
        stop, lr, self.valid_seconds = self.ddp.from_main(
            [*self._validate_main(last), time.time() - start] if self.ddp.main else [0.0, 0.0, 0.0])
        self.state.set_lr(lr)
        self.validated_at = self.state.progress.step
        return bool(stop)

    def _validate_main(self, last: bool) -> tuple[float, float]:
        t, state, at = self.cfg.train, self.state, self.state.progress
        result = self.validator(state.model, self.device)
        value = result[t.metric]
        improved = better(t.metric, value, at.best)
        if improved:
            at.best, at.bad_evals = value, (at.bad_evals if last else 0)
        elif not last:
            at.bad_evals += 1
        if state.scheduler is not None and not last:
            state.scheduler.step(value)
        epoch = at.epoch + (at.batch_in_epoch > 0)  # 1-based; at an epoch's end, the epoch just finished
        self.meter.write({"type": "valid", "step": at.step, "epoch": epoch, **result, "lr": state.lr,
                          "best": at.best, "time": time.time()})
        verdict = "new best" if improved else "not better" if last else f"{at.bad_evals} without improvement"
        log.info("validation step %d | loss %.3f | ppl %.2f | bleu %.2f | %s", at.step, result["loss"],
                 result["ppl"], result["bleu"], verdict)
        if len(result["sets"]) > 1:
            log.info("  %s", " | ".join(f"{name}: ppl {r['ppl']:.2f}, bleu {r['bleu']:.2f}"
                                        for name, r in result["sets"].items()))
        self.save(f"step_{at.step}.pt")
        if improved:
            self.save("best.pt")
        self.save("last.pt")
        rundir.prune_steps(self.out, t.keep_last)
        return float(bool(t.patience) and at.bad_evals >= t.patience), state.lr

    # -- the loop -----------------------------------------------------------------------------------
    def train(self) -> dict:
        t, at = self.cfg.train, self.state.progress
        started = time.time()
        reason = "max_steps" if t.max_steps and at.step >= t.max_steps else None  # e.g. resumed at the limit
        self.state.model.train()
        first_step = at.step
        with Interrupt() as interrupt:
            for chunk in self._updates() if reason is None else ():
                reason = self._end_epoch() if chunk is None else self._update(chunk, started, interrupt)
                if reason is not None:
                    break
        reason = reason or "max_epochs"
        self.meter.tick(at.step, self.state.lr, force=True)
        unseen = at.step > first_step and self.validated_at != at.step  # steps no validation has seen
        if unseen and reason not in ("interrupted", "early_stopping"):
            self.validate(last=True)  # they count too: best.pt may be the last step
        self.save("last.pt")
        elapsed = time.time() - started
        self.ddp.barrier()
        log.info("stopped: %s at step %d after %.1f min; checkpoints in %s", reason.replace("_", " "),
                 at.step, elapsed / 60, self.out)
        summary = {"reason": reason, "step": at.step, "epoch": at.epoch, "best": at.best,
                   "minutes": elapsed / 60, "signal": interrupt.signal}
        if self.device.type == "cuda":  # what a user sizes the next run, or a smaller card, by
            summary["peak_gpu_mib"] = torch.cuda.max_memory_allocated(self.device) / 2**20
            log.info("peak GPU memory: %.0f MiB allocated by tensors", summary["peak_gpu_mib"])
        return summary

    def _updates(self) -> Iterator[list[np.ndarray] | None]:
        """The batches of each update, from the saved position up to max_epochs; None after an epoch's last.

        One update takes `world * accum` batches: `accum` on each process (rank r takes r, r + world, ...).
        An epoch's last batches that cannot fill a whole update are skipped: every process must take part.
        """
        t, at, group = self.cfg.train, self.state.progress, self.ddp.world * self.cfg.train.accum
        while at.epoch < t.max_epochs:
            self._read(self.epoch_mixtures[at.epoch % len(self.epoch_mixtures)].epoch(t.seed, at.epoch))
            batches = token_batches(self.src_lens, self.tgt_lens, t.max_tokens, t.seed, at.epoch)
            self.updates_per_epoch = len(batches) // group
            while at.batch_in_epoch + group <= len(batches):
                yield batches[at.batch_in_epoch : at.batch_in_epoch + group]
            yield None

    def _read(self, epoch: Epoch) -> None:
        """Take the batches of the coming epoch from `epoch`'s pairs."""
        self.batch_corpus = epoch
        self.src_lens, self.tgt_lens = epoch.lengths("src"), epoch.lengths("tgt")  # (pairs,) each

    def _end_epoch(self) -> str | None:
        at = self.state.progress
        at.epoch, at.batch_in_epoch = at.epoch + 1, 0
        if not self.cfg.train.valid_every and self.validate():
            return "early_stopping"
        return None

    def _update(self, chunk: list[np.ndarray], started: float, interrupt: Interrupt) -> str | None:
        """One optimizer update over `chunk`'s batches; returns why training must stop now, if it must."""
        t, state, at = self.cfg.train, self.state, self.state.progress
        state.optimizer.zero_grad(set_to_none=True)
        loss_sum, tokens = self._accumulate(chunk)
        # the budget keeps back the time of one validation, for the last one
        out_of_time = bool(t.max_minutes and time.time() - started + self.valid_seconds >= t.max_minutes * 60)
        # one all-reduce per update: the loss for the log, and whether any process must stop
        loss_sum, signalled, timed_out = self.ddp.sum([loss_sum, float(interrupt.signal is not None),
                                                       float(out_of_time)])
        at.batch_in_epoch += len(chunk)
        if at.step < t.warmup_steps:  # set from the step alone, so a resumed run climbs the same way
            state.set_lr(t.lr * (at.step + 1) / t.warmup_steps)
        if clip_and_step(state.model, state.optimizer, clip=t.clip, loss_sum=loss_sum):
            self.bad_steps = 0
            at.step += 1
            self.meter.add(loss_sum, tokens)
            self.meter.epoch = at.epoch
            self.meter.updates_left = ((t.max_epochs - at.epoch) * self.updates_per_epoch
                                       - at.batch_in_epoch // len(chunk))
            self.meter.tick(at.step, state.lr)
            if t.valid_every and at.step % t.valid_every == 0 and self.validate():
                return "early_stopping"
            if t.max_steps and at.step >= t.max_steps:
                return "max_steps"
        else:
            self._skip_update(loss_sum)
        if timed_out:
            return "max_minutes"
        return "interrupted" if signalled else None

    def _skip_update(self, loss_sum: float) -> None:
        """A NaN/inf loss or gradient: no update; `max_bad_steps` of them in a row end the run."""
        self.bad_steps += 1
        log.warning("step %d: loss or gradient is %s; update skipped", self.state.progress.step + 1, loss_sum)
        if self.bad_steps >= self.cfg.train.max_bad_steps:
            self.save("last.pt")
            raise NMTError(f"{self.bad_steps} steps in a row had a NaN/inf loss; stopped. "
                           f"{self.out / 'last.pt'} holds the last good parameters: "
                           "lower train.lr or train.clip and resume with --resume")

    def _accumulate(self, chunk: list[np.ndarray]) -> tuple[float, int]:
        """Forward and backward over this process's share of one update's batches (update.py).
        Returns this process's summed loss and the whole update's target tokens (EOS included)."""
        world, corpus = self.ddp.world, self.batch_corpus
        total_tokens = sum(int(self.tgt_lens[b].sum()) + len(b) for b in chunk)
        batches = [make_batch([corpus.sentence("src", i) for i in index],
                              [corpus.sentence("tgt", i) for i in index],
                              self.cfg.model.reverse_source).to(self.device)
                   for index in chunk[self.ddp.rank :: world]]
        loss_sum = forward_backward(self.loss_fn, batches, total_tokens=total_tokens,
                                    generator=self.state.generator, bf16=self.bf16, world=world)
        return loss_sum, total_tokens
