"""Checkpoints: self-describing, safe to load, refused with one clear line when they are not ours."""

import random
import zipfile

import pytest
import torch

from nmt import NMTError, checkpoint
from nmt.config import Config, ModelConfig
from nmt.model import Seq2Seq


def _save(toy, path, hidden=16, fill=None):
    """A checkpoint like `nmt train` writes, with every weight set to `fill` when given."""
    cfg = Config(model=ModelConfig(emb=8, hidden=hidden, layers=1))
    torch.manual_seed(0)
    model = Seq2Seq(len(toy["src_tok"]), len(toy["tgt_tok"]), cfg.model)
    if fill is not None:
        for p in model.parameters():
            p.data.fill_(fill)
    checkpoint.save(path, {"config": cfg.to_dict(), "model": model.state_dict(),
                           "src_tokenizer": toy["src_tok"].proto, "tgt_tokenizer": toy["tgt_tok"].proto,
                           "target_counts": torch.ones(len(toy["tgt_tok"]))})
    return path


def test_round_trip_describes_itself_and_rebuilds_the_model(toy, tmp_path):
    _save(toy, tmp_path / "a.pt", fill=0.5)
    ckpt = checkpoint.load(tmp_path / "a.pt")
    assert ckpt["format"] == checkpoint.FORMAT and ckpt["nmt_version"]
    assert ckpt["path"] == str(tmp_path / "a.pt")
    model, src_tok, tgt_tok, cfg = checkpoint.build(ckpt)
    assert not model.training and cfg.model.hidden == 16 and src_tok.proto == toy["src_tok"].proto
    assert all(torch.all(p == 0.5) for p in model.parameters())


def test_a_run_folder_means_its_best_then_its_last_checkpoint(toy, tmp_path):
    _save(toy, tmp_path / "last.pt")
    assert checkpoint.load(tmp_path)["path"].endswith("last.pt")
    _save(toy, tmp_path / "best.pt")
    assert checkpoint.load(tmp_path)["path"].endswith("best.pt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NMTError, match="no best.pt or last.pt"):
        checkpoint.load(tmp_path / "empty")
    with pytest.raises(NMTError, match="no such checkpoint"):
        checkpoint.load(tmp_path / "missing.pt")


class Payload:
    def __reduce__(self):
        return (print, ("this would run",))


def _refusal(path) -> str:
    with pytest.raises(NMTError) as e:
        checkpoint.load(path)
    message = str(e.value)
    # one line, and never PyTorch's advice to turn the safety off
    assert "\n" not in message and "weights_only" not in message and "trust" not in message
    return message


def test_a_checkpoint_that_would_run_code_is_refused_as_such(tmp_path):
    torch.save({"format": 1, "model": Payload()}, tmp_path / "evil.pt")
    assert "loading it could run code" in _refusal(tmp_path / "evil.pt")


@pytest.mark.parametrize("kind", ["random bytes", "text", "zip of something else", "plain state dict",
                                  "empty"])
def test_files_that_are_not_checkpoints_say_so(tmp_path, kind):
    path = tmp_path / "x.pt"
    if kind == "random bytes":
        path.write_bytes(random.Random(0).randbytes(4000))
    elif kind == "text":
        path.write_text("model:\n  hidden: 5\n")
    elif kind == "zip of something else":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("notes.txt", "hello")
    elif kind == "plain state dict":
        torch.save({"weight": torch.ones(3)}, path)
    else:
        path.write_bytes(b"")
    message = _refusal(path)
    assert "not an nmt checkpoint" in message and "could run code" not in message


def test_a_truncated_checkpoint_is_called_incomplete(toy, tmp_path):
    blob = _save(toy, tmp_path / "whole.pt").read_bytes()
    (tmp_path / "half.pt").write_bytes(blob[: len(blob) // 2])
    message = _refusal(tmp_path / "half.pt")
    assert "not a readable nmt checkpoint" in message and "incomplete" in message


def test_average_is_the_mean_of_the_weights(toy, tmp_path):
    paths = [_save(toy, tmp_path / f"{k}.pt", fill=v) for k, v in (("a", 1.0), ("b", 2.0), ("c", 6.0))]
    assert checkpoint.average(paths, tmp_path / "avg.pt") == 3
    avg = checkpoint.load(tmp_path / "avg.pt")
    assert all(torch.all(v == 3.0) for v in avg["model"].values())  # (1 + 2 + 6) / 3
    assert avg["averaged_from"] == [str(p) for p in paths]
    checkpoint.build(avg)  # and it loads as a model


def test_average_refuses_checkpoints_of_different_models(toy, tmp_path):
    a, b = _save(toy, tmp_path / "a.pt"), _save(toy, tmp_path / "b.pt", hidden=24)
    with pytest.raises(NMTError, match="a different model"):
        checkpoint.average([a, b], tmp_path / "avg.pt")
    assert not (tmp_path / "avg.pt").exists()


def test_average_refuses_a_shape_change_the_config_does_not_show(toy, tmp_path):
    a, b = _save(toy, tmp_path / "a.pt"), _save(toy, tmp_path / "b.pt")
    ckpt = torch.load(b, weights_only=True)
    ckpt["model"]["output.bias"] = torch.zeros(7)
    torch.save(ckpt, b)
    with pytest.raises(NMTError, match="a different model"):
        checkpoint.average([a, b], tmp_path / "avg.pt")
