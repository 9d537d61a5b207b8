"""Checkpoints that describe themselves and cannot run code.

A checkpoint is a plain dict of tensors, numbers, strings and bytes: the resolved config, both
sentencepiece models (serialized), the model weights, the sampler's token counts and the training
state. It is loaded with torch.load(weights_only=True), which refuses anything that would execute
code, and written to a temporary file that replaces the old one in a single rename.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from nmt import NMTError, __version__
from nmt.config import Config, from_dict
from nmt.fileio import atomic_path
from nmt.model import Seq2Seq
from nmt.text.tokenizer import Tokenizer

FORMAT = 1


def save(path: str | Path, payload: dict) -> None:
    payload = {"format": FORMAT, "nmt_version": __version__, **payload}
    try:
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)
    except OSError as e:
        raise NMTError(f"could not save checkpoint {path} ({e.strerror or e}); "
                       "the previous one is untouched") from None


def load(path: str | Path) -> dict:
    """A checkpoint (or a run folder's best.pt, else last.pt) as a dict; refuses anything that is not
    an nmt checkpoint, or that could run code, with one line that says which. PyTorch's own account
    of the failure is chained to the error (shown by `nmt --debug`)."""
    path = Path(path)
    if path.is_dir():
        for name in ("best.pt", "last.pt"):
            if (path / name).is_file():
                path = path / name
                break
        else:
            raise NMTError(f"{path}: no best.pt or last.pt in this folder; is it an `nmt train` run?")
    if not path.is_file():
        raise NMTError(f"{path}: no such checkpoint")
    not_ours = f"{path}: not an nmt checkpoint; give a run folder or a .pt file written by `nmt train`"
    _check_archive(path, not_ours)
    try:
        # mmap: only what is used is read (decoding touches the weights, not the optimizer's state)
        ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as e:  # a well-formed archive holding objects other than data
        raise NMTError(f"{path}: refused: it holds more than weights and settings, "
                       "and loading it could run code") from e
    except Exception as e:  # a damaged archive
        raise NMTError(f"{path}: not a readable nmt checkpoint: the file is damaged "
                       f"({type(e).__name__})") from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT or "model" not in ckpt:
        raise NMTError(not_ours)
    ckpt["path"] = str(path)
    return ckpt


def _check_archive(path: Path, not_ours: str) -> None:
    """torch.save writes a zip archive with a data.pkl inside; anything else is not a checkpoint of ours.
    A file that starts like a zip but cannot be read as one was cut short (a copy or download stopped)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as e:
        with open(path, "rb") as f:
            if f.read(4) == b"PK\x03\x04":
                raise NMTError(f"{path}: not a readable nmt checkpoint: the file is incomplete "
                               "(cut short?)") from e
        raise NMTError(not_ours) from e
    if not any(name.endswith("/data.pkl") for name in names):
        raise NMTError(not_ours)


def config_of(ckpt: dict) -> Config:
    return from_dict(ckpt["config"])


def build(ckpt: dict) -> tuple[Seq2Seq, Tokenizer, Tokenizer, Config]:
    """Everything a translator needs, from the checkpoint alone."""
    cfg = config_of(ckpt)
    src_tok = Tokenizer(ckpt["src_tokenizer"], name="checkpoint source tokenizer")
    tgt_tok = Tokenizer(ckpt["tgt_tokenizer"], name="checkpoint target tokenizer")
    model = Seq2Seq(len(src_tok), len(tgt_tok), cfg.model)
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, src_tok, tgt_tok, cfg


def average(paths: list[str | Path], out: str | Path) -> int:
    """Average the weights of several checkpoints of one model; the result translates like any other."""
    if not paths:
        raise NMTError("give at least one checkpoint to average")
    ckpts = [load(p) for p in paths]
    first = ckpts[0]
    keys = set(first["model"])
    for c in ckpts[1:]:
        shapes = set(c["model"]) == keys and all(c["model"][k].shape == first["model"][k].shape for k in keys)
        if not shapes or c["config"]["model"] != first["config"]["model"]:
            raise NMTError(f"{c['path']}: a different model from {first['path']}; "
                           "only checkpoints of one run can be averaged")
        if c["tgt_tokenizer"] != first["tgt_tokenizer"] or c["src_tokenizer"] != first["src_tokenizer"]:
            raise NMTError(f"{c['path']}: different tokenizers from {first['path']}; cannot average")
    state = {}
    for key, value in first["model"].items():
        if value.is_floating_point():
            state[key] = sum(c["model"][key].double() for c in ckpts).div(len(ckpts)).to(value.dtype)
        else:
            state[key] = value
    payload = {k: first[k] for k in ("config", "src_tokenizer", "tgt_tokenizer", "target_counts")}
    payload.update(model=state, averaged_from=[c["path"] for c in ckpts],
                   step=max(c.get("step", 0) for c in ckpts))
    save(out, payload)
    return len(ckpts)
