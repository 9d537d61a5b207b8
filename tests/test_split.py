"""Leak-free splits (split.py, `nmt data split`): the docstring's worked example, the invariants on a random
corpus, and every kind of bad input refused with FILE:LINE before anything is written."""

import random
import subprocess
import sys

import numpy as np
import pytest

from nmt import NMTError
from nmt.config import SplitConfig
from nmt.split import DROPPED, TEST, TRAIN, PairFile, groups, is_near, normalize, plan, sentence_key, split
from tests.helpers import ENV

EXAMPLE = [("Ich bin müde.", "I'm tired."), ("Ich bin müde!", "I am tired."),
           ("Ich bin so müde.", "I am tired."), ("Er ist müde.", "He is tired."),
           ("Er war müde.", "He was tired."), ("Ja.", "Yes.")]


def _keys(pairs, match="normalized"):
    return (np.array([sentence_key(s, match) for s, _ in pairs], dtype=np.uint64),
            np.array([sentence_key(t, match) for _, t in pairs], dtype=np.uint64))


def _write(folder, pairs, name="corpus"):
    folder.mkdir(parents=True, exist_ok=True)
    src, tgt = folder / f"{name}.de", folder / f"{name}.en"
    src.write_text("".join(s + "\n" for s, _ in pairs), encoding="utf-8")
    tgt.write_text("".join(t + "\n" for _, t in pairs), encoding="utf-8")
    return src, tgt


def _read(out, part):
    return list(zip((out / f"{part}.de").read_text(encoding="utf-8").splitlines(),
                    (out / f"{part}.en").read_text(encoding="utf-8").splitlines(), strict=True))


def test_normalize_ignores_case_spacing_and_punctuation():
    assert normalize("Tom's  tired!") == "tom s tired"
    assert normalize("ICH BIN MÜDE.") == normalize("ich bin müde") == "ich bin müde"


def test_worked_example_groups():
    group = groups(*_keys(EXAMPLE))
    assert group[0] == group[1] == group[2]
    assert len({group[0], group[3], group[4], group[5]}) == 4
    exact = groups(*_keys(EXAMPLE, "exact"))  # "Ich bin müde." and "Ich bin müde!" differ: 0 stands alone
    assert exact[1] == exact[2] != exact[0]


def test_worked_example_plan():
    group = groups(*_keys(EXAMPLE))
    eligible = np.array([len(s.split()) >= 3 for s, _ in EXAMPLE])
    where = plan(group, eligible, {"test": 3}, order=[0, 3, 4], max_group=50)
    assert where.tolist() == [TEST, TEST, TEST, TRAIN, TRAIN, TRAIN]
    where = plan(group, eligible, {"test": 1}, order=[3, 0, 4], max_group=50)  # group A does not fit
    assert where.tolist() == [TRAIN, TRAIN, TRAIN, TEST, TRAIN, TRAIN]
    with pytest.raises(NMTError, match="test 1 pairs short"):
        plan(group, eligible, {"test": 6}, order=[0, 3, 4], max_group=50)


def test_worked_example_near_removes_the_paraphrase_from_train(tmp_path):
    assert is_near("Er ist müde.", "Er war müde.") and is_near("Tom is tired.", "Tom is very tired.")
    assert not is_near("Tom is tired.", "Tom was very tired.") and not is_near("Er ist müde.", "Ja.")
    src, tgt = _write(tmp_path, EXAMPLE)
    kept = {}
    for seed in range(40):  # a seed whose draw starts in group B
        out = tmp_path / f"near-{seed}"
        split(PairFile(src, tgt), out, ("de", "en"), SplitConfig(valid=0, test=1, seed=seed, min_words=3))
        if _read(out, "test") == [EXAMPLE[3]]:
            kept = {match: _read(out, "train") for match in ("near",)}
            normalized = tmp_path / f"normalized-{seed}"
            split(PairFile(src, tgt), normalized, ("de", "en"),
                  SplitConfig(valid=0, test=1, seed=seed, min_words=3, match="normalized"))
            kept["normalized"] = _read(normalized, "train")
            break
    assert kept, "no seed drew group B first"
    assert kept["near"] == [EXAMPLE[i] for i in (0, 1, 2, 5)]
    assert kept["normalized"] == [EXAMPLE[i] for i in (0, 1, 2, 4, 5)]


def _corpus(n=400, seed=0):
    """Random 5-7 word sentences, with some sentences translated three times and some pairs repeated."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(60)]
    pairs = []
    for i in range(n):
        sentence = " ".join(rng.choice(words) for _ in range(rng.randint(5, 7)))
        pairs.append((f"{sentence} {i}.", f"translation {i} of {sentence}."))
        if i % 10 == 0:  # two more translations of the same source
            pairs += [(f"{sentence} {i}.", f"another {i}."), (f"{sentence} {i}!", f"a third {i}.")]
        if i % 25 == 0:
            pairs.append(pairs[-1])  # an exact duplicate
    rng.shuffle(pairs)
    return pairs


@pytest.mark.parametrize("match", ["exact", "normalized", "near"])
def test_no_held_out_sentence_occurs_in_train(tmp_path, match):
    pairs = _corpus()
    src, tgt = _write(tmp_path, pairs)
    out = tmp_path / "out"
    report = split(PairFile(src, tgt), out, ("de", "en"), SplitConfig(valid=30, test=40, match=match))
    train, valid, test = (_read(out, part) for part in ("train", "valid", "test"))
    assert (len(valid), len(test)) == (30, 40) == (report.pairs["valid"], report.pairs["test"])
    key = (lambda s: s) if match == "exact" else normalize
    for side in (0, 1):
        seen = {key(p[side]) for p in train}
        assert not seen & {key(p[side]) for p in valid + test}
        assert not {key(p[side]) for p in valid} & {key(p[side]) for p in test}
    # a source translated three times lands whole in one split
    by_source = {}
    for part, rows in (("train", train), ("valid", valid), ("test", test)):
        for s, _ in rows:
            by_source.setdefault(key(s), set()).add(part)
    assert all(len(parts) == 1 for parts in by_source.values())
    assert len(train) == len(set(train))  # duplicates gone
    assert report.read == len(pairs)
    assert len(train) + 70 + report.dropped_duplicates + report.dropped_short_in_held_out_group \
        + report.dropped_near_held_out == len(pairs)


def test_three_translations_go_together_whatever_the_seed(tmp_path):
    triple = [("Das ist ein sehr schönes Haus.", "That is a very nice house."),
              ("Das ist ein sehr schönes Haus.", "This is a very beautiful house."),
              ("Das ist ein wirklich schönes Haus.", "This is a very beautiful house.")]
    pairs = _corpus(100) + triple
    src, tgt = _write(tmp_path, pairs)
    places = set()
    for seed in range(12):
        out = tmp_path / str(seed)
        split(PairFile(src, tgt), out, ("de", "en"), SplitConfig(valid=20, test=20, seed=seed))
        where = [part for part in ("train", "valid", "test") for pair in _read(out, part) if pair in triple]
        assert len(where) == 3 and len(set(where)) == 1, where
        places.add(where[0])
    assert places >= {"train", "test"}  # the seeds do move it


def test_same_seed_same_split_other_seed_another(tmp_path):
    src, tgt = _write(tmp_path, _corpus())
    runs = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        split(PairFile(src, tgt), tmp_path / name, ("de", "en"), SplitConfig(valid=30, test=30, seed=seed))
        runs[name] = [(tmp_path / name / f"{part}.de").read_bytes() for part in ("train", "valid", "test")]
    assert runs["a"] == runs["b"] != runs["c"]


def test_tsv_columns_and_a_third_column(tmp_path):
    tsv = tmp_path / "c.tsv"
    tsv.write_text("".join(f"English {i} here now.\tDeutsch {i} hier jetzt bitte.\tCC-BY {i}\n"
                           for i in range(50)))
    out = tmp_path / "out"
    split(PairFile(tsv=tsv, src_column=1, tgt_column=0), out, ("de", "en"), SplitConfig(valid=5, test=5))
    assert all(s.startswith("Deutsch") and t.startswith("English") for s, t in _read(out, "train"))


@pytest.mark.parametrize("case", ["src longer", "tgt longer", "no tab", "empty side", "nul", "not utf-8"])
def test_bad_input_names_file_and_line_and_writes_nothing(tmp_path, case):
    good = [(f"Satz Nummer {i} ist hier.", f"Sentence number {i} is here.") for i in range(10)]
    src, tgt = _write(tmp_path, good)
    source = PairFile(src, tgt)
    if case == "src longer":
        src.write_text(src.read_text() + "Noch ein Satz.\n")
        where = f"{src}:11: {tgt} ends after 10 lines"
    elif case == "tgt longer":
        tgt.write_text(tgt.read_text() + "One more.\n")
        where = f"{tgt}:11: {src} ends after 10 lines"
    elif case == "no tab":
        tsv = tmp_path / "c.tsv"
        tsv.write_text("a b c d e\tf g\nonly one field here\nx\ty\n")
        source, where = PairFile(tsv=tsv), f"{tsv}:2: 1 tab-separated field"
    elif case == "empty side":
        tgt.write_text(tgt.read_text().replace("Sentence number 4 is here.", "  "))
        where = f"{src}:5 / {tgt}:5: empty target"
    elif case == "nul":
        src.write_bytes(src.read_bytes().replace(b"Satz Nummer 7", b"Satz\x00\x01"))
        where = f"{src}:8 / {tgt}:8: control character U+0000 in the source"
    else:
        src.write_bytes(src.read_bytes().replace(b"Satz Nummer 2", b"\xff\xfe binary"))
        where = f"{src}:3: bytes that are not UTF-8"
    out = tmp_path / "out"
    with pytest.raises(NMTError) as error:
        split(source, out, ("de", "en"), SplitConfig(valid=2, test=2))
    assert str(error.value).startswith(where), str(error.value)
    assert not out.exists() or not any(out.iterdir())


def test_cli_split_prints_counts_and_refuses_bad_input_in_one_line(tmp_path):
    src, tgt = _write(tmp_path, _corpus(200), name="corpus")
    out = tmp_path / "out"
    nmt = [sys.executable, "-m", "nmt", "data", "split"]
    done = subprocess.run([*nmt, "--src", src, "--tgt", tgt, "--out", out, "--valid", "20", "--test", "20"],
                          capture_output=True, text=True, env=ENV)
    assert done.returncode == 0, done.stderr
    assert f"{out / 'test'}.{{de,en}}\t20 pairs" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == ["split.json", "test.de", "test.en", "train.de",
                                                     "train.en", "valid.de", "valid.en"]
    again = subprocess.run([*nmt, "--src", src, "--tgt", tgt, "--out", out], capture_output=True, text=True,
                           env=ENV)
    assert again.returncode == 1 and "--force" in again.stderr
    tsv = tmp_path / "bad.tsv"
    tsv.write_text("eins zwei drei vier fünf\tone two three four five\nkein tab\n")
    bad = subprocess.run([*nmt, "--tsv", tsv, "--pair", "de-en", "--out", tmp_path / "bad"],
                         capture_output=True, text=True, env=ENV)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines()[-1].startswith(f"error: {tsv}:2: 1 tab-separated field")
    assert not (tmp_path / "bad" / "train.de").exists()


def test_dropped_count_adds_up(tmp_path):
    src, tgt = _write(tmp_path, EXAMPLE * 2)  # every pair twice
    report = split(PairFile(src, tgt), tmp_path / "out", ("de", "en"),
                   SplitConfig(valid=0, test=1, min_words=3))
    assert report.dropped_duplicates == 6 and report.read == 12
    assert sum(report.pairs.values()) + report.dropped_duplicates + report.dropped_short_in_held_out_group \
        + report.dropped_near_held_out == 12
    assert DROPPED < 0  # never a split's index
