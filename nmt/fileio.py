"""Reading text the way users' corpora really are, and writing files so a crash never leaves half of one."""

from __future__ import annotations

import contextlib
import gzip
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import yaml

from nmt import NMTError


def _open_binary(path: Path) -> IO[bytes]:
    try:
        if str(path).endswith(".gz"):
            return gzip.open(path, "rb")
        return open(path, "rb")
    except FileNotFoundError:
        raise NMTError(f"{path}: no such file; check the path") from None
    except IsADirectoryError:
        raise NMTError(f"{path}: is a directory, expected a text file") from None
    except PermissionError:
        raise NMTError(f"{path}: permission denied; check the file's permissions") from None


def read_lines(path: str | Path) -> Iterator[str]:
    """Yield the lines of a UTF-8 (optionally .gz) text file without their line ending.

    Lines are split on "\\n" only, so a stray "\\r" or U+2028 inside a sentence never shifts the
    alignment of a parallel corpus; a Windows "\\r\\n" ending is removed. Bytes that are not UTF-8
    are an error naming the file and line: silently replacing them would hide a broken corpus.
    """
    path = Path(path)
    with _open_binary(path) as f:
        yield from decode_lines(f, str(path))


def decode_lines(stream: IO[bytes], name: str) -> Iterator[str]:
    """read_lines for an open binary stream (standard input included)."""
    for number, raw in enumerate(stream, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise NMTError(
                f"{name}:{number}: bytes that are not UTF-8 (at byte {e.start} of the line); "
                "convert the file to UTF-8, e.g. with iconv -f LATIN1 -t UTF-8"
            ) from None
        yield line.rstrip("\n").rstrip("\r")


def count_lines(path: str | Path) -> int:
    """Number of lines as read_lines sees them (a last line without "\\n" counts)."""
    path = Path(path)
    count, last = 0, b"\n"
    with _open_binary(path) as f:
        while chunk := f.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def check_parallel(src: str | Path, tgt: str | Path) -> int:
    """Refuse a parallel corpus whose sides differ in length; return the number of pairs."""
    n_src, n_tgt = count_lines(src), count_lines(tgt)
    if n_src != n_tgt:
        raise NMTError(
            f"parallel files differ in length: {src} has {n_src} lines, {tgt} has {n_tgt}; "
            "each source line must have exactly one target line"
        )
    return n_src


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename.

    Devices and pipes (/dev/null, /dev/stdout, a FIFO) are written in place: renaming a file over
    them would replace the device itself.
    """
    path = Path(path)
    if path.exists() and not path.is_file():
        if path.is_dir():
            raise NMTError(f"{path} is a directory; give a file name")
        yield path
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    # mkstemp makes the file private (0600): give it the replaced file's mode, or what open() would give
    os.fchmod(fd, stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o666 & ~_umask())
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def refuse_existing(paths: list[Path], force: bool) -> None:
    """Refuse to overwrite what a user already has, unless `force`."""
    existing = [p for p in paths if p.exists()]
    if existing and not force:
        raise NMTError(f"{existing[0]} already exists; pass --force to overwrite, or choose another --out")


def read_yaml(path: Path) -> Any:
    """A YAML file's content; a parse error becomes one line with the file, line and column."""
    if not path.is_file():
        raise NMTError(f"{path}: no such config file")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise NMTError(f"{path}: not UTF-8 text (byte {e.start}); save the config as UTF-8") from None
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise NMTError(f"{_yaml_where(e, str(path))}: not valid YAML: {yaml_problem(e)}") from e


def _yaml_where(e: yaml.YAMLError, name: str) -> str:
    mark = getattr(e, "problem_mark", None)
    return f"{name}:{mark.line + 1}:{mark.column + 1}" if mark is not None else name


def yaml_problem(e: yaml.YAMLError) -> str:
    return getattr(e, "problem", None) or type(e).__name__
