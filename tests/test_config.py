import dataclasses
from pathlib import Path

import pytest
import yaml

from nmt import NMTError
from nmt.config import (
    RANGES,
    SECTIONS,
    Config,
    DecodeConfig,
    DocumentLimits,
    ServeConfig,
    ShortlistConfig,
    apply_overrides,
    from_dict,
    load,
)
from nmt.corpora import languages_of


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
    paths = sorted(Path(__file__).parents[1].glob("configs/*.yaml"))
    assert [p.name for p in paths] == ["general-de-en.yaml", "general-fr-en.yaml",
                                       "multi30k-de-en-attention.yaml", "multi30k-de-en-small.yaml",
                                       "multi30k-de-en.yaml"]
    for path in paths:
        cfg = load(path)
        if path.name.startswith("general"):  # Multi30k and Tatoeba, each validated
            names = [c["name"] for c in cfg.data.corpora]
            assert names == [v["name"] for v in cfg.data.valid] == ["multi30k", "tatoeba"]
            assert cfg.data.byte_fallback and languages_of(cfg) == (path.name.split("-")[1], "en")
        else:
            assert cfg.data.train_src.startswith("data/multi30k/")


@pytest.mark.parametrize("setting, allowed", [
    ("model.hidden=-5", "must be >= 1, got -5"), ("model.hidden=0", "must be >= 1"), ("model.emb=-1", ">= 1"),
    ("model.layers=0", ">= 1"), ("model.dropout=1.0", "in [0, 1), got 1.0"),
    ("model.dropout=-0.1", "in [0, 1)"),
    ("train.max_tokens=0", ">= 1"), ("train.lr=-0.001", ">= 0"), ("train.num_sampled=0", ">= 1"),
    ("train.lr_decay=1.5", "in (0, 1)"), ("train.clip=0", "> 0"), ("train.seed=-1", ">= 0"),
    ("data.vocab_size=3", ">= 8"), ("train.label_smoothing=1", "in [0, 1)"),
])
def test_values_out_of_range_name_the_key_the_value_and_the_range(setting, allowed):
    key = setting.split("=")[0]
    with pytest.raises(NMTError) as e:
        apply_overrides(Config(), [setting])
    assert str(e.value).startswith(f"{key} must be ") and allowed in str(e.value)
    section, name = key.split(".")
    with pytest.raises(NMTError, match=f"{key} must be "):  # the same from a YAML mapping
        from_dict({section: {name: yaml.safe_load(setting.split("=")[1])}})


def test_every_numeric_setting_has_a_range_and_every_default_is_in_it():
    for section, cls in [*SECTIONS.items(), ("decode", DecodeConfig), ("serve", ServeConfig),
                         ("shortlist", ShortlistConfig), ("documents", DocumentLimits)]:
        for f in dataclasses.fields(cls):
            if f.type in ("int", "float"):
                assert f.name in RANGES[section], f"{section}.{f.name} has no range"
    Config().check()  # the defaults themselves pass
    DecodeConfig()
    ServeConfig()
    ShortlistConfig()
    DocumentLimits()


def test_configs_built_in_code_are_checked_too():
    cfg = Config()
    cfg.model.hidden = 0
    with pytest.raises(NMTError, match="model.hidden must be >= 1, got 0"):
        cfg.check()
    with pytest.raises(NMTError, match="decode.beam must be >= 1"):
        DecodeConfig(beam=0)


def test_malformed_yaml_is_one_line_with_file_line_and_column(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  hidden: [1, 2\ntrain: x\n")
    with pytest.raises(NMTError) as e:
        load(path)
    assert "\n" not in str(e.value) and str(e.value).startswith(f"{path}:3:6: not valid YAML: ")
    with pytest.raises(NMTError, match="not valid YAML .*put text in quotes"):
        apply_overrides(Config(), ["data.train_src=[oops"])
    path.write_bytes(b"model:\n  emb: \xff\n")
    with pytest.raises(NMTError, match="not UTF-8"):
        load(path)
