"""Sentencepiece tokenizers with fixed special ids, trained per side or jointly."""

from __future__ import annotations

import io
import itertools
import json
import random
from collections.abc import Iterable, Iterator
from pathlib import Path

import sentencepiece as spm

from nmt import NMTError
from nmt.fileio import atomic_write_bytes, atomic_write_text, read_lines
from nmt.text.reserved import RESERVED

# The same in every model we train or load: the model and search rely on them.
PAD, UNK, BOS, EOS = 0, 1, 2, 3
MODEL_TYPES = ("unigram", "bpe", "char", "word")
SAMPLE = 1_000_000  # sentences (per side) that tokenizer training reads at most
WORD_START = "\u2581"  # "▁": sentencepiece's mark of a piece that starts a word
# Below this many pieces a vocabulary has no room for byte fallback's 256 byte pieces and the reserved
# pieces (reserved.py): it is trained without them (a toy; sentencepiece would refuse it otherwise)
ROOMY = 1000


class Tokenizer:
    """A loaded sentencepiece model: text <-> ids, with the special ids checked."""

    def __init__(self, model_proto: bytes, name: str = "tokenizer"):
        self.proto = bytes(model_proto)
        self.sp = spm.SentencePieceProcessor()
        try:
            self.sp.LoadFromSerializedProto(self.proto)
        except Exception as e:  # sentencepiece raises RuntimeError/OSError for corrupt protos
            raise NMTError(f"{name}: not a valid sentencepiece model ({e})") from None
        got = (self.sp.pad_id(), self.sp.unk_id(), self.sp.bos_id(), self.sp.eos_id())
        if got != (PAD, UNK, BOS, EOS):
            raise NMTError(
                f"{name}: special ids (pad, unk, bos, eos) are {got}, nmt needs {(PAD, UNK, BOS, EOS)}; "
                "train the tokenizer with `nmt train-tokenizer`"
            )

    @classmethod
    def load(cls, path: str | Path) -> Tokenizer:
        path = Path(path)
        if not path.is_file():
            raise NMTError(f"{path}: no such tokenizer model; train one with `nmt train-tokenizer`")
        return cls(path.read_bytes(), name=str(path))

    def __len__(self) -> int:
        return self.sp.get_piece_size()

    def encode(self, lines: list[str]) -> list[list[int]]:
        return self.sp.encode(lines)

    def decode(self, ids: list[list[int]]) -> list[str]:
        # One call per sequence: sentencepiece's batch call starts threads each time, which cost 90 µs
        # a call against 3 µs for a single sequence (translation decodes one sentence's n-best at a time).
        return [self.sp.decode(one) for one in ids]

    def reserves(self) -> bool:
        """Whether the model keeps the reserved pieces whole (reserved.py): tokenizers trained by nmt since
        placeholders and term annotations came do."""
        return all(self.sp.piece_to_id(piece) != UNK for piece in RESERVED)

    def pieces(self, ids: list[int]) -> list[str]:
        """The pieces' own strings (▁ marks a word's start), e.g. for showing an alignment."""
        return [self.sp.id_to_piece(i) for i in ids]


def _sample_lines(paths: list[Path], limit: int, seed: int, lines: list[int] | None = None) -> Iterator[str]:
    """Up to `limit` non-empty lines of `paths`, drawn at random; with `lines`, lines[i] of paths[i] each:
    whole passes over the file, then a sample of the rest (a corpus's share of a mixture, mixture.py)."""
    rng = random.Random(seed)
    if lines is None:
        chosen = _reservoir(itertools.chain.from_iterable(read_lines(p) for p in paths), limit, rng)
    else:
        chosen = []
        for path, count in zip(paths, lines, strict=True):
            whole = [line for line in read_lines(path) if line.strip()]
            passes, rest = divmod(count, max(1, len(whole)))
            chosen += whole * passes + rng.sample(whole, min(rest, len(whole)))
    rng.shuffle(chosen)
    return iter(chosen)


def _reservoir(lines: Iterable[str], limit: int, rng: random.Random) -> list[str]:
    # Reservoir sampling keeps memory at `limit` lines however large the corpus is.
    reservoir: list[str] = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        if len(reservoir) < limit:
            reservoir.append(line)
        else:
            j = rng.randint(0, i)
            if j < limit:
                reservoir[j] = line
    return reservoir


def train_model(paths: list[Path], vocab_size: int, model_type: str, sample_size: int, seed: int,
                lines: list[int] | None = None, byte_fallback: bool = True) -> bytes:
    """One sentencepiece model (serialized) on the lines of `paths` (`lines[i]` of paths[i], when given),
    with nmt's special ids and, from ROOMY pieces up, the reserved pieces; with `byte_fallback` (from ROOMY
    pieces up), characters it has no piece for become byte pieces."""
    if model_type not in MODEL_TYPES:
        raise NMTError(f"unknown model type {model_type!r}; choose one of {', '.join(MODEL_TYPES)}")
    roomy = vocab_size >= ROOMY
    buffer = io.BytesIO()
    # A unigram vocabulary may come out a little smaller than asked when the corpus has too few
    # distinct pieces (Multi30k English stops at 7,931 of 8,000); other types need an exact size.
    soft = {"hard_vocab_limit": False} if model_type == "unigram" else {}
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=_sample_lines(paths, sample_size, seed, lines),
            model_writer=buffer,
            vocab_size=vocab_size,
            model_type=model_type,
            character_coverage=1.0,  # Latin scripts: keep every character rather than map rare ones to unk
            byte_fallback=byte_fallback and roomy,
            user_defined_symbols=RESERVED if roomy else [],  # placeholders and term markers (reserved.py)
            pad_id=PAD, unk_id=UNK, bos_id=BOS, eos_id=EOS,
            input_sentence_size=sample_size, shuffle_input_sentence=True,
            num_threads=2, minloglevel=2, **soft,
        )
    except RuntimeError as e:
        msg = str(e).strip().splitlines()[-1] if str(e).strip() else repr(e)
        raise NMTError(f"sentencepiece could not train on {', '.join(map(str, paths))}: {msg}. "
                       "With a small corpus, lower --vocab-size") from None
    return buffer.getvalue()


def unknown_share(tok: Tokenizer, lines: Iterable[str], sample: int = 2000) -> float:
    """Share of pieces that are <unk> on the first `sample` lines (how much text the vocab loses)."""
    batch = list(itertools.islice(lines, sample))
    ids = [i for seq in tok.encode(batch) for i in seq]
    return sum(i == UNK for i in ids) / max(1, len(ids))


def train_tokenizers(src: Path | list[Path], tgt: Path | list[Path], out: Path, vocab_size: int = 8000,
                     model_type: str = "unigram", joint: bool = False, sample_size: int = SAMPLE,
                     seed: int = 1, lines: list[int] | None = None, byte_fallback: bool = True) -> dict:
    """Train `out/src.model` and `out/tgt.model` (the same model twice with `joint`); return a summary.
    Several corpora: lists of source and target files, and `lines[i]` sentences to take from corpus i."""
    srcs, tgts = ([src], [tgt]) if isinstance(src, (str, Path)) else (list(src), list(tgt))
    options = {"vocab_size": vocab_size, "model_type": model_type, "sample_size": sample_size, "seed": seed,
               "byte_fallback": byte_fallback}
    if joint:
        proto = train_model(srcs + tgts, lines=lines and lines + lines, **options)
        protos = {"src": proto, "tgt": proto}
    else:
        protos = {side: train_model(paths, lines=lines, **options)
                  for side, paths in (("src", srcs), ("tgt", tgts))}
    out.mkdir(parents=True, exist_ok=True)
    summary = {"joint": joint, "model_type": model_type,
               "byte_fallback": byte_fallback and vocab_size >= ROOMY, "reserved": vocab_size >= ROOMY}
    for side, paths in (("src", srcs), ("tgt", tgts)):
        tok = Tokenizer(protos[side], name=side)
        atomic_write_bytes(out / f"{side}.model", protos[side])
        text = itertools.chain.from_iterable(map(read_lines, paths))
        summary[side] = {"vocab_size": len(tok), "unk_share": unknown_share(tok, text),
                         "trained_on": ", ".join(map(str, paths))}
    atomic_write_text(out / "tokenizers.json", json.dumps(summary, indent=2) + "\n")
    return summary


def load_tokenizers(directory: str | Path) -> tuple[Tokenizer, Tokenizer]:
    directory = Path(directory)
    if not directory.is_dir():
        raise NMTError(f"{directory}: no such tokenizer folder; "
                       f"make one with `nmt train-tokenizer --out {directory}`")
    return Tokenizer.load(directory / "src.model"), Tokenizer.load(directory / "tgt.model")
