import gzip
import hashlib

import pytest

from nmt import NMTError
from nmt.fetch import fetch_multi30k, load_sums
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
