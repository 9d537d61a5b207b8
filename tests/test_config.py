import pytest

from nmt import NMTError
from nmt.config import Config, apply_overrides, from_dict, load


def test_yaml_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  hidden: 64\n  cell: gru\ntrain:\n  lr: 0.01\n")
    cfg = load(path, ["model.hidden=128", "train.loss=full", "model.reverse_source=false"])
    assert (cfg.model.hidden, cfg.model.cell, cfg.train.lr, cfg.train.loss) == (128, "gru", 0.01, "full")
    assert cfg.model.reverse_source is False
    assert cfg.model.emb == Config().model.emb  # untouched defaults stay


def test_unknown_key_lists_valid_ones():
    with pytest.raises(NMTError) as e:
        from_dict({"model": {"hiden": 3}})
    assert "model.hiden" in str(e.value) and "hidden" in str(e.value) and "layers" in str(e.value)


def test_unknown_section():
    with pytest.raises(NMTError, match="valid sections: model, data, train"):
        from_dict({"optim": {}})


def test_wrong_type_and_bad_choice():
    with pytest.raises(NMTError, match="model.hidden must be an integer"):
        from_dict({"model": {"hidden": "big"}})
    with pytest.raises(NMTError, match="train.loss must be one of sampled, full"):
        apply_overrides(Config(), ["train.loss=nce"])
    with pytest.raises(NMTError, match="section.key=value"):
        apply_overrides(Config(), ["hidden=3"])


def test_round_trip_through_dict():
    cfg = load(None, ["model.layers=3"])
    assert from_dict(cfg.to_dict()) == cfg


def test_shipped_configs_load():
    from pathlib import Path
    for path in Path(__file__).parents[1].glob("configs/*.yaml"):
        cfg = load(path)
        assert cfg.data.train_src.startswith("data/multi30k/")
