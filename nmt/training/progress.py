"""What a training run tells its user: a live line on a terminal (plain log lines otherwise), the run's
train.log, and metrics.jsonl with one JSON object per log interval and per validation."""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from pathlib import Path

from nmt import NMTError
from nmt.config import TrainConfig
from nmt.hardware import resident_mb

log = logging.getLogger(__name__)
# A record logged with this goes to train.log but not to the terminal, which shows it as the live line.
FILE_ONLY = {"console": False}


def for_console(record: logging.LogRecord) -> bool:
    """Filter for a terminal handler: drops FILE_ONLY records."""
    return getattr(record, "console", True)


def setup_logging(out: Path) -> None:
    """Send nmt's log records to OUT/train.log too (replacing the file handler of an earlier run)."""
    handler = logging.FileHandler(out / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    package = logging.getLogger("nmt")
    package.setLevel(logging.INFO)
    for old in [h for h in package.handlers if isinstance(h, logging.FileHandler)]:
        package.removeHandler(old)
        old.close()
    package.addHandler(handler)


def quiet() -> None:
    """Warnings only: for the processes of a distributed job other than rank 0, which speaks for it."""
    logging.getLogger("nmt").setLevel(logging.WARNING)


def _board_writer(folder: Path):
    """A TensorBoard writer into `folder`; NMTError naming the extra when TensorBoard is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise NMTError("train.tensorboard needs TensorBoard: pip install 'nmt[tensorboard]' (or tensorboard)"
                       ) from None
    return SummaryWriter(str(folder))


class Meter:
    """Sums the training loss between log lines and reports it, with speed and the time left."""

    def __init__(self, out: Path, train: TrainConfig, start_step: int, enabled: bool = True):
        self.train, self.metrics, self.enabled = train, out / "metrics.jsonl", enabled
        self.live = sys.stderr.isatty()
        self.t0 = self.t_last = time.time()
        self.start_step = start_step
        self.loss = self.tokens = 0.0
        self.n = 0
        self.updates_left: int | None = None  # set by the loop: updates until max_epochs
        self.epoch = 0                        # set by the loop: the epoch being trained (0-based)
        self.board = _board_writer(out / "tensorboard") if train.tensorboard and enabled else None

    def add(self, loss_sum: float, ntokens: int) -> None:
        self.loss += loss_sum
        self.tokens += ntokens
        self.n += 1

    def write(self, record: dict) -> None:
        if not self.enabled:
            return
        with open(self.metrics, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.board is not None:
            self._to_board(record)

    def _to_board(self, record: dict) -> None:
        """The record as TensorBoard scalars: train/loss_sampled (or _full), train/ppl, train/lr,
        train/tokens_per_s; valid/loss, valid/ppl, valid/bleu and, with several sets, valid/NAME/..."""
        step = record["step"]
        if record["type"] == "train":
            scalars = {f"train/loss_{self.train.loss}": record["loss"], "train/ppl": record["ppl"],
                       "train/lr": record["lr"], "train/tokens_per_s": record["tok_per_s"]}
        else:
            scalars = {f"valid/{key}": record[key] for key in ("loss", "ppl", "bleu") if key in record}
            if len(record.get("sets", {})) > 1:  # each set's too, beside their mean
                scalars.update({f"valid/{name}/{key}": r[key] for name, r in record["sets"].items()
                                for key in ("loss", "ppl", "bleu")})
        for tag, value in scalars.items():
            self.board.add_scalar(tag, value, step)
        self.board.flush()

    def eta(self, step: int) -> str:
        train, elapsed = self.train, time.time() - self.t0
        rate = max((step - self.start_step) / max(1e-9, elapsed), 1e-9)  # updates per second
        left = []
        if train.max_steps:
            left.append((train.max_steps - step) / rate)
        if train.max_minutes:
            left.append(train.max_minutes * 60 - elapsed)
        if self.updates_left is not None:  # up to max_epochs, if nothing stops the run earlier
            left.append(self.updates_left / rate)
        if not left:
            return "?"
        return time.strftime("%H:%M:%S", time.gmtime(max(0, min(left))))

    def tick(self, step: int, lr: float, force: bool = False) -> None:
        """Show the live line; every `log_every` steps (or when forced) log it and start a new interval."""
        if self.n == 0 or not self.enabled:
            return
        loss = self.loss / max(1, self.tokens)
        ppl = math.exp(min(loss, 50))
        tps = self.tokens / max(1e-9, time.time() - self.t_last)
        line = (f"step {step} | loss {loss:.3f} | ppl {ppl:.1f} | lr {lr:.2e} | {tps:.0f} tok/s | "
                f"eta {self.eta(step)}")
        if self.live:
            print("\r" + line + " " * 4, end="", file=sys.stderr, flush=True)
        if force or step % self.train.log_every == 0:
            if self.live:
                print(file=sys.stderr)
            log.info(line, extra=FILE_ONLY if self.live else None)
            self.write({"type": "train", "step": step, "epoch": self.epoch, "loss": loss, "ppl": ppl,
                        "lr": lr, "tok_per_s": tps, "rss_mb": resident_mb(), "time": time.time()})
            self.loss = self.tokens = 0.0
            self.n = 0
            self.t_last = time.time()
