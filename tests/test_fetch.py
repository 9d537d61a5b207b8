import gzip
import hashlib
import random

import pytest

from nmt import NMTError
from nmt.config import SplitConfig
from nmt.fetch import fetch_multi30k, fetch_news, fetch_tatoeba, load_sums
from tests.helpers import SHARED


def _mirror(tmp_path, corrupt: str | None = None):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    sums = {}
    for split, n in (("train", 3), ("val", 2), ("test_2016_flickr", 1), ("test_2017_flickr", 1)):
        for lang in ("de", "en"):
            name = f"{split}.{lang}.gz"
            blob = gzip.compress("".join(f"{split} {lang} {i}\n" for i in range(n)).encode())
            (mirror / name).write_bytes(blob)
            sums[name] = hashlib.sha256(blob).hexdigest()
    if corrupt:
        (mirror / corrupt).write_bytes(gzip.compress(b"tampered\n"))
    return mirror, sums


def test_fetch_from_local_mirror_writes_plain_text(tmp_path):
    mirror, sums = _mirror(tmp_path)
    written = dict(fetch_multi30k(tmp_path / "out", "de", "en", str(mirror), sums=sums))
    out = tmp_path / "out"
    assert written[out / "train.de"] == 3 and written[out / "test2017.en"] == 1
    assert (out / "val.en").read_text() == "val en 0\nval en 1\n"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{split}.{lang}" for split in ("train", "val", "test2016", "test2017") for lang in ("de", "en"))


def test_checksum_mismatch_refuses_the_file(tmp_path):
    mirror, sums = _mirror(tmp_path, corrupt="val.en.gz")
    with pytest.raises(NMTError, match="val.en.gz: sha256 .* does not match"):
        fetch_multi30k(tmp_path / "out", "de", "en", str(mirror), sums=sums)
    assert not (tmp_path / "out" / "val.en").exists()


def test_existing_files_need_force(tmp_path):
    mirror, sums = _mirror(tmp_path)
    fetch_multi30k(tmp_path / "out", "de", "en", str(mirror), sums=sums)
    with pytest.raises(NMTError, match="--force"):
        fetch_multi30k(tmp_path / "out", "de", "en", str(mirror), sums=sums)
    fetch_multi30k(tmp_path / "out", "de", "en", str(mirror), sums=sums, force=True)


def test_network_failure_suggests_mirror(tmp_path):
    with pytest.raises(NMTError, match="--mirror"):
        fetch_multi30k(tmp_path / "out", "de", "en", "http://127.0.0.1:9/none", sums=load_sums())


def test_mirror_from_environment(tmp_path, monkeypatch):
    mirror, sums = _mirror(tmp_path)
    monkeypatch.setenv("NMT_MULTI30K_MIRROR", str(mirror))
    assert len(fetch_multi30k(tmp_path / "out", sums=sums)) == 8


def test_unknown_language(tmp_path):
    with pytest.raises(NMTError, match="unknown language"):
        fetch_multi30k(tmp_path, "xx", "en", str(tmp_path))


@pytest.mark.skipif(not SHARED.is_dir(), reason="no local copy of Multi30k")
def test_real_multi30k_from_shared_copy(tmp_path):
    counts = {p.name: n for p, n in fetch_multi30k(tmp_path, "de", "en", str(SHARED))}
    sizes = {"train": 29000, "val": 1014, "test2016": 1000, "test2017": 1000}
    assert counts == {f"{split}.{lang}": n for split, n in sizes.items() for lang in ("de", "en")}
    cs = {p.name for p, _ in fetch_multi30k(tmp_path / "cs", "cs", "en", str(SHARED))}
    assert "test2017.cs" not in cs and "test2016.cs" in cs


def _tatoeba_mirror(tmp_path, n=300):
    """A fake Anki export: English first, German second, an attribution column third."""
    mirror = tmp_path / "tatoeba"
    mirror.mkdir()
    rng = random.Random(0)  # sentences more than a word apart, or the near rule keeps them out of train
    words = [f"w{k}" for k in range(50)]
    rows = "".join(f"English {' '.join(rng.sample(words, 5))}.\tDeutsch {' '.join(rng.sample(words, 5))}.\t"
                   f"CC-BY {i}\n" for i in range(n))
    blob = gzip.compress(rows.encode())
    (mirror / "deu-eng.tsv.gz").write_bytes(blob)
    return mirror, {"deu-eng.tsv.gz": hashlib.sha256(blob).hexdigest()}


@pytest.mark.parametrize("pair", ["de-en", "en-de"])
def test_tatoeba_from_mirror_takes_the_pairs_direction(tmp_path, pair):
    mirror, sums = _tatoeba_mirror(tmp_path)
    src, tgt = pair.split("-")
    report = fetch_tatoeba(tmp_path / "out", pair, str(mirror), SplitConfig(valid=10, test=20), sums=sums)
    assert report.pairs == {"valid": 10, "test": 20, "train": 270}
    first = (tmp_path / "out" / f"test.{src}").read_text().splitlines()[0]
    assert first.startswith("Deutsch" if src == "de" else "English")
    assert (tmp_path / "out" / f"train.{tgt}").read_text().count("\n") == 270


def test_tatoeba_refuses_a_file_that_is_not_the_known_export(tmp_path):
    mirror, sums = _tatoeba_mirror(tmp_path)
    sums["deu-eng.tsv.gz"] = "0" * 64
    with pytest.raises(NMTError, match="deu-eng.tsv.gz: sha256 .* does not match"):
        fetch_tatoeba(tmp_path / "out", "de-en", str(mirror), sums=sums)
    assert not (tmp_path / "out").exists()
    with pytest.raises(NMTError, match="--pair takes one of de-en, en-de, en-fr, fr-en"):
        fetch_tatoeba(tmp_path / "out", "de-fr", str(mirror), sums=sums)


def test_news_from_mirror(tmp_path):
    mirror = tmp_path / "news"
    mirror.mkdir()
    sums = {}
    for name, text in (("newstest2014.deu-eng.deu.gz", "Ein Satz.\nNoch einer.\n"),
                       ("newstest2014.deu-eng.eng.gz", "A sentence.\nAnother one.\n")):
        blob = gzip.compress(text.encode())
        (mirror / name).write_bytes(blob)
        sums[name] = hashlib.sha256(blob).hexdigest()
    written = dict(fetch_news(tmp_path / "out", "en-de", str(mirror), sums=sums))
    assert written == {tmp_path / "out" / "newstest2014.en": 2, tmp_path / "out" / "newstest2014.de": 2}
    assert (tmp_path / "out" / "newstest2014.de").read_text() == "Ein Satz.\nNoch einer.\n"


@pytest.mark.skipif(not (SHARED.parent / "tatoeba").is_dir(), reason="no Tatoeba mirror in ../shared/data")
def test_real_tatoeba_and_news_checksums_and_counts(tmp_path):
    report = fetch_tatoeba(tmp_path / "t", "fr-en", str(SHARED.parent / "tatoeba"),
                           SplitConfig(valid=100, test=100, match="normalized"))
    assert report.read == 167_130 and report.pairs["test"] == 100
    assert sum(report.pairs.values()) + report.dropped_duplicates + report.dropped_short_in_held_out_group \
        == report.read
    written = dict(fetch_news(tmp_path / "n", "de-en", str(SHARED.parent / "news")))
    assert set(written.values()) == {3003}
