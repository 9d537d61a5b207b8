"""The run folder: what `nmt train` keeps in it, and how a run starts, saves and resumes.

    config.yaml              the resolved config
    tokenizers/              src.model, tgt.model, when the config names no tokenizer folder
    prepared/NAME.text/      each training corpus rewritten with placeholders and term annotations, when the
                             config asks for them (augment.py); what the tokenizers and NAME/ are made from
    prepared/NAME/           each binarized training corpus (NAME: "train", or its name in data.corpora),
                             reused while inputs and tokenizers are unchanged; NAME.sampled-K: with subword
                             regularisation, its sampled segmentations
    train.log, metrics.jsonl what the run reported (see progress.py)
    last.pt, best.pt         the newest checkpoint, and the one with the best validation metric
    step_N.pt                the last `train.keep_last` validation checkpoints
    .lock                    held by the process training in the folder (its process id inside)
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import yaml

from nmt import NMTError, augment, checkpoint
from nmt.config import Config, from_dict
from nmt.corpora import CorpusFiles, train_corpora, valid_sets
from nmt.corpus import PreparedCorpus, Sampling, prepared_or_cached
from nmt.fileio import atomic_write_text, check_parallel, count_lines
from nmt.mixture import counts, shares
from nmt.text.tokenizer import ROOMY, SAMPLE, Tokenizer, load_tokenizers, train_tokenizers
from nmt.training.distributed import Distributed

log = logging.getLogger(__name__)
LOCK = ".lock"


@contextlib.contextmanager
def exclusive(out: Path) -> Iterator[None]:
    """Hold the run folder `out` for one training run: an exclusive lock of the operating system on
    OUT/.lock, so a second `nmt train` on the same folder is refused before it touches anything. The lock
    dies with its process, so a run that was killed never blocks the next one (a marker file would).
    A folder made here for a run that then fails to start is removed again. Where the system has no
    flock (Windows), runs are not locked."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    made = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            raise NMTError(f"{out} is in use by another `nmt train` (process {holder} holds it); "
                           "wait for it to end or choose another --out") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        try:
            yield
        except BaseException:
            if made and [p.name for p in out.iterdir()] == [LOCK]:  # nothing of the run was written
                (out / LOCK).unlink()
                out.rmdir()
            raise
    finally:
        os.close(fd)  # and with it the lock


def open_run(out: Path, cfg: Config, *, resume: bool, changed: set[str]) -> tuple[Config, dict | None]:
    """The config to train with and, on resume, the run's last checkpoint. A new run never overwrites
    an existing one; a resumed run keeps its saved config except for the train.* keys in `changed`."""
    saved = None
    if resume:
        if not (out / "last.pt").is_file():
            raise NMTError(f"{out}: nothing to resume (no last.pt); start a run with --out {out}")
        saved = checkpoint.load(out / "last.pt")
        cfg = resume_config(saved["config"], cfg, changed)
    elif out.exists() and any(out.glob("*.pt")):
        raise NMTError(f"{out} already holds a training run; continue it with --resume {out}, "
                       "or choose another --out")
    cfg.check()
    for kind, corpora in (("train", train_corpora(cfg.data)), ("valid", valid_sets(cfg.data))):
        for corpus in corpora:
            for side in ("src", "tgt"):
                path, key = getattr(corpus, side), f"data.{kind}_{side}"
                if not path:
                    raise NMTError(f"{key} is not set; give --{kind}-{side} FILE or set it in the config")
                if not Path(path).is_file():
                    named = key if corpus.name == kind else f"{corpus.name}'s {side}"
                    raise NMTError(f"{named}: {path}: no such file (for Multi30k run `nmt data multi30k "
                                   "--out data/multi30k`, for Tatoeba `nmt data tatoeba --out "
                                   "data/tatoeba-de-en`)")
    return cfg, saved


def resume_config(saved: dict, overrides: Config, changed: set[str]) -> Config:
    cfg = from_dict(saved)
    for key in sorted(changed):
        section, name = key.split(".", 1)
        if section != "train":
            raise NMTError(f"{key} cannot change on resume (only train.* settings can); "
                           "start a new run instead")
        setattr(cfg.train, name, getattr(overrides.train, name))
    return cfg


def create(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(".*.tmp"):  # left by a process killed while saving; the real files are whole
        stale.unlink()


def augmentation(cfg: Config) -> augment.Augmentation:
    d = cfg.data
    return augment.Augmentation(d.placeholders, d.span_share, d.term_share, cfg.train.seed, d.term_swap)


def training_texts(cfg: Config, out: Path, *, ddp: Distributed) -> list[CorpusFiles]:
    """The training corpora as the run reads them: rewritten by rank 0 into OUT/prepared/NAME.text (or
    reused) when the config asks for placeholders or term annotations, else as they are."""
    corpora, aug = train_corpora(cfg.data), augmentation(cfg)
    if ddp.main:
        augment.texts(corpora, out / "prepared", aug)
    ddp.barrier()
    return augment.text_files(corpora, out / "prepared", aug)


def tokenizers(cfg: Config, out: Path, corpora: list[CorpusFiles], *, saved: dict | None, ddp: Distributed
               ) -> tuple[Tokenizer, Tokenizer]:
    """The checkpoint's tokenizers on resume, else data.tokenizers, else ones trained into OUT/tokenizers
    (over the training corpora as the run reads them, each sampled by its share of the mixture)."""
    if saved is not None:
        return (Tokenizer(saved["src_tokenizer"], "checkpoint source tokenizer"),
                Tokenizer(saved["tgt_tokenizer"], "checkpoint target tokenizer"))
    d = cfg.data
    folder = Path(d.tokenizers) if d.tokenizers else out / "tokenizers"
    missing = not all((folder / f"{side}.model").is_file() for side in ("src", "tgt"))
    if augmentation(cfg).active and not d.tokenizers and d.vocab_size < ROOMY:
        raise NMTError(f"data.placeholders and data.term_share need tokenizers with the reserved pieces, "
                       f"which a vocabulary of {d.vocab_size} pieces has no room for; set data.vocab_size to "
                       f"at least {ROOMY}")
    if ddp.main and not d.tokenizers and missing:
        lines = None
        if len(corpora) > 1:
            sizes = [count_lines(c.src) for c in corpora]
            share = shares(sizes, [c.weight for c in corpora], d.temperature)
            lines = counts(min(SAMPLE, sum(sizes)), share).tolist()
        log.info("training tokenizers (vocab %d, %s%s) into %s", d.vocab_size, d.model_type,
                 ", byte fallback" if d.byte_fallback and d.vocab_size >= ROOMY else "", folder)
        train_tokenizers([Path(c.src) for c in corpora], [Path(c.tgt) for c in corpora], folder,
                         d.vocab_size, d.model_type, d.joint, seed=cfg.train.seed, lines=lines,
                         byte_fallback=d.byte_fallback)
    ddp.barrier()  # rank 0 trains them once; every rank loads them
    loaded = load_tokenizers(folder)
    if augmentation(cfg).active and not all(tok.reserves() for tok in loaded):
        raise NMTError(f"{folder}: these tokenizers lack the reserved pieces that data.placeholders and "
                       "data.term_share need; train new ones with `nmt train-tokenizer`, or leave "
                       "data.tokenizers empty")
    return loaded


def training_corpora(cfg: Config, out: Path, corpora: list[CorpusFiles], src_tok: Tokenizer,
                     tgt_tok: Tokenizer, *, ddp: Distributed) -> list[PreparedCorpus]:
    """The binarized training corpora, prepared by rank 0 (or reused), and the resolved config beside them."""
    max_len = cfg.model.max_len
    if ddp.main:
        atomic_write_text(out / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        for corpus in corpora:
            n = check_parallel(corpus.src, corpus.tgt)
            _, stats = prepared_or_cached(Path(corpus.src), Path(corpus.tgt), src_tok, tgt_tok,
                                          out / "prepared" / corpus.name, max_len)
            if stats is not None:
                log.info("prepared %s: %d of %d training pairs (dropped %d empty, %d longer than %d tokens)",
                         corpus.name, stats.kept, n, stats.dropped_empty, stats.dropped_long, max_len)
    ddp.barrier()
    return [PreparedCorpus(out / "prepared" / corpus.name) for corpus in corpora]


def sampled_corpora(cfg: Config, out: Path, corpora: list[CorpusFiles], src_tok: Tokenizer,
                    tgt_tok: Tokenizer, *, ddp: Distributed) -> list[list[PreparedCorpus]]:
    """data.sampling_variants encodings of the training corpora with sampled segmentations (prepared by
    rank 0, or reused), in OUT/prepared/NAME.sampled-K; none without subword regularisation. Variant K's
    draw is seeded by train.seed and K, so runs with other seeds see other segmentations."""
    d, max_len = cfg.data, cfg.model.max_len
    folders = [[out / "prepared" / f"{c.name}.sampled-{k}" for c in corpora]
               for k in range(d.sampling_variants)]
    if ddp.main:
        for k, variant in enumerate(folders):
            sampling = Sampling(alpha=d.sampling_alpha, seed=cfg.train.seed * 1009 + k)
            for corpus, folder in zip(corpora, variant, strict=True):
                _, stats = prepared_or_cached(Path(corpus.src), Path(corpus.tgt), src_tok, tgt_tok, folder,
                                              max_len, sampling)
                if stats is not None:
                    log.info("prepared sampled segmentation %d of %d of %s: %d pairs (alpha %g)", k + 1,
                             len(folders), corpus.name, stats.kept, d.sampling_alpha)
    ddp.barrier()
    return [[PreparedCorpus(folder) for folder in variant] for variant in folders]


def prune_steps(out: Path, keep: int) -> None:
    """Delete all but the newest `keep` step_N.pt files."""
    steps = sorted(out.glob("step_*.pt"), key=lambda p: int(p.stem.split("_")[1]))
    for old in steps[: -keep or None]:
        old.unlink()


@dataclass
class Position:
    """Where training stands; saved in every checkpoint so a resume continues exactly here."""
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0          # batches of `epoch` already trained on
    best: float | None = None        # best value of the chosen metric
    bad_evals: int = 0               # validations since the best one


def sampler_seed(seed: int, rank: int, step: int = 0) -> int:
    """Seed of the generator that draws sampled-softmax negatives: different on every rank."""
    return seed + 7919 * rank + 104729 * step


@dataclass
class TrainState:
    """Everything of a run that changes as it trains and that a checkpoint must bring back."""
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau | None
    generator: torch.Generator       # the sampler's random numbers (dropout uses torch's global generator)
    progress: Position = field(default_factory=Position)

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def payload(self, *, cfg: Config, tokenizers: tuple[Tokenizer, Tokenizer], counts: torch.Tensor,
                world: int) -> dict:
        """The checkpoint's content (see checkpoint.py): enough to translate, and to resume exactly."""
        cuda = next(self.model.parameters()).is_cuda
        return {
            "config": cfg.to_dict(), "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "src_tokenizer": tokenizers[0].proto, "tgt_tokenizer": tokenizers[1].proto,
            "target_counts": counts,
            "progress": asdict(self.progress), "step": self.progress.step, "world": world,
            "rng": {"torch": torch.get_rng_state(), "sampler": self.generator.get_state(),
                    "cuda": torch.cuda.get_rng_state() if cuda else None},
        }

    def restore(self, saved: dict, *, lr: float | None, reset_optimizer: bool, seed: int,
                ddp: Distributed) -> None:
        """Bring back a checkpoint's state. `lr`: a new learning rate, which also restarts the schedule;
        `reset_optimizer`: fresh Adam moments and schedule."""
        self.model.load_state_dict(saved["model"])
        self.progress = Position(**saved["progress"])
        if not reset_optimizer:
            self.optimizer.load_state_dict(saved["optimizer"])
        if lr is not None:
            self.set_lr(lr)  # the scheduler, made for this lr, starts afresh
        elif not reset_optimizer and self.scheduler is not None and saved.get("scheduler"):
            self.scheduler.load_state_dict(saved["scheduler"])
        if ddp.world == 1 and saved.get("world", 1) == 1:
            torch.set_rng_state(saved["rng"]["torch"])
            self.generator.set_state(saved["rng"]["sampler"])
            if saved["rng"].get("cuda") is not None and next(self.model.parameters()).is_cuda:
                torch.cuda.set_rng_state(saved["rng"]["cuda"])
        else:  # one saved state cannot serve several ranks: derive fresh ones from the position
            step = self.progress.step
            torch.manual_seed(seed + 104729 * step + ddp.rank)
            self.generator.manual_seed(sampler_seed(seed, ddp.rank, step))
