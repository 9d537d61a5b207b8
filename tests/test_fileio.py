import os

import pytest

from nmt import NMTError
from nmt.fileio import atomic_write_text, check_parallel, count_lines, read_lines


def test_windows_line_endings_are_removed_and_lone_cr_does_not_split(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"eins\r\nzwei\rdrei\r\nvier")
    assert list(read_lines(path)) == ["eins", "zwei\rdrei", "vier"]
    assert count_lines(path) == 3


def test_non_utf8_bytes_name_file_and_line(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("gut\nschön\n".encode("latin-1"))
    with pytest.raises(NMTError, match=r"latin1.txt:2: bytes that are not UTF-8"):
        list(read_lines(path))


def test_gzip_is_read_transparently(tmp_path):
    import gzip
    path = tmp_path / "a.gz"
    path.write_bytes(gzip.compress(b"a\nb\n"))
    assert list(read_lines(path)) == ["a", "b"]
    assert count_lines(path) == 2


def test_parallel_files_of_different_length_are_refused_naming_both(tmp_path):
    src, tgt = tmp_path / "x.de", tmp_path / "x.en"
    src.write_text("a\nb\nc\n")
    tgt.write_text("a\nb\n")
    with pytest.raises(NMTError) as e:
        check_parallel(src, tgt)
    assert "x.de has 3 lines" in str(e.value) and "x.en has 2" in str(e.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(NMTError, match="no such file"):
        count_lines(tmp_path / "nope.txt")


def test_atomic_write_replaces_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "out.txt"
    atomic_write_text(path, "old")
    atomic_write_text(path, "new")
    assert path.read_text() == "new"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_streams_are_decoded_like_files():
    import io

    from nmt.fileio import decode_lines
    assert list(decode_lines(io.BytesIO("a\r\nb\u2028c\n".encode()), "stdin")) == ["a", "b\u2028c"]
    with pytest.raises(NMTError, match="stdin:1"):
        list(decode_lines(io.BytesIO(b"\xff\n"), "stdin"))


def test_devices_and_pipes_are_written_in_place_not_replaced(tmp_path):
    import stat
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    import threading
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    atomic_write_text(fifo, "through the pipe")
    reader.join(5)
    assert got == ["through the pipe"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still a pipe, not a regular file
    atomic_write_text("/dev/null", "discarded")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    with pytest.raises(NMTError, match="is a directory"):
        atomic_write_text(tmp_path, "x")


def test_atomic_writes_get_the_usual_permissions_not_private_ones(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "new.txt", "x")
        assert (tmp_path / "new.txt").stat().st_mode & 0o777 == 0o644  # like open(..., "w")
        (tmp_path / "kept.txt").write_text("old")
        os.chmod(tmp_path / "kept.txt", 0o640)
        atomic_write_text(tmp_path / "kept.txt", "new")
        assert (tmp_path / "kept.txt").stat().st_mode & 0o777 == 0o640  # an existing file keeps its mode
    finally:
        os.umask(old)
