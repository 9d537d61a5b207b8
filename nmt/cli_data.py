"""`nmt data ...`: getting public corpora and splitting a corpus into train / valid / test without leaks;
`nmt train-tokenizer` and `nmt prepare` (registered on the app in cli.py)."""

from __future__ import annotations

from pathlib import Path

import typer

from nmt import NMTError
from nmt.config import DataConfig, SplitConfig
from nmt.fileio import refuse_existing
from nmt.split import SPLITS, SplitReport
from nmt.text.tokenizer import SAMPLE

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                  help="Get public corpora (Multi30k, Tatoeba, newstest2014); split corpora without leaks.")

SPLIT = SplitConfig()  # the defaults of a leak-free split
# The options of a leak-free split, shared by `data tatoeba` and `data split`.
VALID = typer.Option(SPLIT.valid, "--valid", min=0, help="Pairs held out for validation.")
TEST = typer.Option(SPLIT.test, "--test", min=0, help="Pairs held out for testing.")
SEED = typer.Option(SPLIT.seed, "--seed", min=0, help="Seed of the draw: the same seed gives the same split.")
MIN_WORDS = typer.Option(SPLIT.min_words, "--min-words", min=1, help="Hold out only pairs whose source has "
                         "at least this many words (one-word greetings would inflate the scores).")
MATCH = typer.Option(SPLIT.match, "--match", help="When two sentences count as the same: exact; normalized "
                     "(case, spacing and punctuation ignored); near (normalized, and train also loses pairs "
                     "one word from a valid or test sentence).")
FORCE = typer.Option(False, "--force", help="Overwrite files that already exist.")


def _echo(msg: str) -> None:
    typer.echo(msg, err=True)


def _print_report(out: Path, report: SplitReport, langs: tuple[str, str]) -> None:
    for part in ("train", "valid", "test"):
        typer.echo(f"{out / part}.{{{','.join(langs)}}}\t{report.pairs[part]} pairs")
    held_out = report.pairs["valid"] + report.pairs["test"]
    lost = report.read - held_out - report.pairs["train"]
    typer.echo(f"read {report.read} pairs; {held_out} held out in {report.groups_held_out} groups of shared "
               f"sentences; train lost {lost}: {report.dropped_duplicates} duplicates, "
               f"{report.dropped_short_in_held_out_group} short pairs of held-out groups, "
               f"{report.dropped_near_held_out} one word from a held-out sentence ({out / 'split.json'})")


@app.command("multi30k")
def multi30k(
    out: Path = typer.Option(..., "--out",
                             help="Folder for train/val/test2016/test2017 .SRC/.TGT text files."),
    src: str = typer.Option("de", "--src", help="Source language: de, en, fr or cs."),
    tgt: str = typer.Option("en", "--tgt", help="Target language: de, en, fr or cs."),
    mirror: str | None = typer.Option(None, "--mirror", help="Folder or URL holding the .gz files "
                                         "(default: $NMT_MULTI30K_MIRROR, else the official repository)."),
    force: bool = FORCE,
):
    """Get Multi30k task 1 (image captions; sha256-verified) as plain text.

    \b
    Example: nmt data multi30k --out data/multi30k --src de --tgt en --mirror ../shared/data/multi30k
    """
    from nmt.fetch import fetch_multi30k
    for path, lines in fetch_multi30k(out, src, tgt, mirror, force=force):
        typer.echo(f"{path}\t{lines} lines")


@app.command("tatoeba")
def tatoeba(
    out: Path = typer.Option(..., "--out", help="Folder for train/valid/test .SRC/.TGT and split.json."),
    pair: str = typer.Option("de-en", "--pair", help="de-en, en-de, fr-en or en-fr."),
    mirror: str | None = typer.Option(None, "--mirror", help="Folder holding deu-eng.tsv.gz / fra-eng.tsv.gz "
                                      "(default: $NMT_TATOEBA_MIRROR, else ../shared/data/tatoeba)."),
    valid: int = VALID, test: int = TEST, seed: int = SEED, min_words: int = MIN_WORDS, match: str = MATCH,
    force: bool = FORCE,
):
    """Get Tatoeba's everyday sentence pairs (sha256-verified) and split them without leaks.

    Pairs that share a sentence form one group, and a group goes whole into train, valid or test, so no
    sentence of valid or test occurs in train.

    \b
    Example: nmt data tatoeba --pair de-en --out data/tatoeba-de-en
    """
    from nmt.fetch import fetch_tatoeba, parse_pair
    langs = parse_pair(pair, ("de", "fr"))
    cfg = SplitConfig(valid=valid, test=test, seed=seed, min_words=min_words, match=match)
    report = fetch_tatoeba(out, pair, mirror, cfg, force=force, progress=_echo)
    _print_report(out, report, langs)


@app.command("news")
def news(
    out: Path = typer.Option(..., "--out", help="Folder for newstest2014.SRC and newstest2014.TGT."),
    pair: str = typer.Option("de-en", "--pair", help="de-en, en-de, fr-en or en-fr."),
    mirror: str | None = typer.Option(None, "--mirror", help="Folder holding the newstest2014 .gz files "
                                      "(default: $NMT_NEWS_MIRROR, else ../shared/data/news)."),
    force: bool = FORCE,
):
    """Get WMT newstest2014 (news; sha256-verified): a test far from captions and everyday sentences.

    \b
    Example: nmt data news --pair de-en --out data/news
    """
    from nmt.fetch import fetch_news
    for path, lines in fetch_news(out, pair, mirror, force=force):
        typer.echo(f"{path}\t{lines} lines")


@app.command("split")
def split_command(
    out: Path = typer.Option(..., "--out", help="Folder for train/valid/test .SRC/.TGT and split.json."),
    src: Path | None = typer.Option(None, "--src", help="Source sentences, one per line (with --tgt)."),
    tgt: Path | None = typer.Option(None, "--tgt", help="Target sentences, aligned line by line with --src."),
    tsv: Path | None = typer.Option(None, "--tsv", help="Or one file of SOURCE<TAB>TARGET lines."),
    columns: str = typer.Option("1,2", "--columns", help="With --tsv: the source's and the target's columns, "
                                "counted from 1 (2,1 for TARGET<TAB>SOURCE files)."),
    pair: str | None = typer.Option(None, "--pair", help="Languages for the file names, e.g. de-en (default: "
                                    "the --src/--tgt suffixes)."),
    valid: int = VALID, test: int = TEST, seed: int = SEED, min_words: int = MIN_WORDS, match: str = MATCH,
    force: bool = FORCE,
):
    """Split a parallel corpus into deduplicated train / valid / test without leaks.

    \b
    Examples:
      nmt data split --src corpus.de --tgt corpus.en --out data/mine
      nmt data split --tsv corpus.tsv --pair de-en --out data/mine --valid 1000 --test 1000
    """
    from nmt.split import PairFile, split
    langs = _split_langs(src, tgt, tsv, pair)
    if tsv is not None:
        src_column, tgt_column = _columns(columns)
        source = PairFile(tsv=tsv, src_column=src_column, tgt_column=tgt_column)
    else:
        source = PairFile(src=src, tgt=tgt)
    refuse_existing([out / f"{part}.{lang}" for part in SPLITS for lang in langs], force)
    cfg = SplitConfig(valid=valid, test=test, seed=seed, min_words=min_words, match=match)
    report = split(source, out, langs, cfg, progress=_echo)
    _print_report(out, report, langs)


def _split_langs(src: Path | None, tgt: Path | None, tsv: Path | None, pair: str | None) -> tuple[str, str]:
    if (tsv is None) == (src is None or tgt is None) or (tsv is not None and (src or tgt)):
        raise NMTError("give either --src FILE --tgt FILE or --tsv FILE")
    if pair:
        first, sep, second = pair.partition("-")
        if not sep or not first or not second or first == second:
            raise NMTError(f"--pair takes SRC-TGT language codes, e.g. de-en, got {pair!r}")
        return first, second
    if tsv is not None:
        raise NMTError("--tsv needs --pair SRC-TGT to name the output files (e.g. --pair de-en)")
    names = [p.name.removesuffix(".gz") for p in (src, tgt)]
    langs = tuple(name.rpartition(".")[2] for name in names)
    if not all("." in name for name in names) or "" in langs or langs[0] == langs[1]:
        raise NMTError(f"cannot tell the languages from {src.name} and {tgt.name}; give --pair SRC-TGT")
    return langs


def _columns(text: str) -> tuple[int, int]:
    try:
        first, second = (int(c) - 1 for c in text.split(","))
    except ValueError:
        raise NMTError(f"--columns takes two column numbers, e.g. 1,2, got {text!r}") from None
    if first < 0 or second < 0 or first == second:
        raise NMTError(f"--columns takes two different column numbers from 1, got {text!r}")
    return first, second


def train_tokenizer(
    src: Path = typer.Option(..., "--src", exists=True, dir_okay=False, readable=True,
                             help="Source training text."),
    tgt: Path = typer.Option(..., "--tgt", exists=True, dir_okay=False, readable=True,
                             help="Target training text."),
    out: Path = typer.Option(..., "--out", help="Folder for src.model and tgt.model."),
    vocab_size: int = typer.Option(8000, "--vocab-size", min=8, help="Pieces per model."),
    model_type: str = typer.Option("unigram", "--model-type", help="unigram, bpe, char or word."),
    joint: bool = typer.Option(False, "--joint", help="One model shared by both sides."),
    byte_fallback: bool = typer.Option(DataConfig.byte_fallback, "--byte-fallback/--no-byte-fallback",
                                       help="Characters outside the vocabulary become byte pieces instead "
                                       "of <unk>."),
    sample: int = typer.Option(SAMPLE, "--sample", min=1,
                               help="Sentences sampled for training (big corpora)."),
    force: bool = typer.Option(False, "--force", help="Overwrite models already in --out."),
):
    """Train sentencepiece tokenizers for both sides.

    Special ids are fixed in every model: pad 0, unk 1, bos 2, eos 3.

    \b
    Example: nmt train-tokenizer --src data/multi30k/train.de --tgt data/multi30k/train.en --out tok
    """
    from nmt.text.tokenizer import train_tokenizers
    if (out / "src.model").exists() and not force:
        raise NMTError(f"{out} already holds tokenizers; pass --force to overwrite or choose another --out")
    summary = train_tokenizers(src, tgt, out, vocab_size, model_type, joint, sample,
                               byte_fallback=byte_fallback)
    for side in ("src", "tgt"):
        s = summary[side]
        typer.echo(f"{side}: {out / (side + '.model')}  vocab {s['vocab_size']}  "
                   f"unknown pieces {100 * s['unk_share']:.3f}%")


def prepare(
    src: Path = typer.Option(..., "--src", exists=True, dir_okay=False, readable=True, help="Source text."),
    tgt: Path = typer.Option(..., "--tgt", exists=True, dir_okay=False, readable=True, help="Target text."),
    tokenizers: Path = typer.Option(..., "--tokenizers", help="Folder with src.model and tgt.model."),
    out: Path = typer.Option(..., "--out", help="Folder for the binarized corpus."),
    max_len: int = typer.Option(100, "--max-len", min=1,
                                help="Drop pairs with a side longer than this (tokens)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing prepared folder."),
):
    """Binarize a parallel corpus for training.

    Encodes once into memory-mapped token arrays (nmt train does this itself, cached).

    \b
    Example: nmt prepare --src data/multi30k/train.de --tgt data/multi30k/train.en --tokenizers tok --out prep
    """
    from nmt.corpus import prepare as run_prepare
    from nmt.text.tokenizer import load_tokenizers
    if out.exists() and not force:
        raise NMTError(f"{out} already exists; pass --force to replace it or choose another --out")
    src_tok, tgt_tok = load_tokenizers(tokenizers)
    stats = run_prepare(src, tgt, src_tok, tgt_tok, out, max_len)
    typer.echo(f"{out}: kept {stats.kept} of {stats.pairs} pairs; dropped {stats.dropped_empty} empty, "
               f"{stats.dropped_long} longer than {max_len} tokens")
