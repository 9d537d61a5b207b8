"""The `nmt` command: argument checking and one library call per command. Only this module imports Typer."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

from nmt import NMTError, __version__
from nmt.config import DecodeConfig
from nmt.progress import for_console


class _Commands(TyperGroup):
    """Runs a command; a user's mistake (NMTError) prints `error: ...` and exits 1 without a traceback,
    unless `nmt --debug` asked for one. Ctrl-C exits 130."""

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except NMTError as e:
            if ctx.params.get("debug"):
                raise
            _echo(f"error: {e}")
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            _echo("interrupted")
            raise typer.Exit(130) from None


app = typer.Typer(cls=_Commands, add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  pretty_exceptions_enable=False,
                  help="nmt: recurrent neural machine translation. Train with `nmt train`, translate with "
                       "`nmt translate`, score with `nmt evaluate`.")
data_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Get public corpora.")
app.add_typer(data_app, name="data", help="Get public corpora (Multi30k).")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nmt {__version__}")
        raise typer.Exit()


@app.callback()
def _main(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
          version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version.")):
    """Options before the command apply to every command (read by _Commands)."""


def _echo(msg: str) -> None:
    typer.echo(msg, err=True)


# -- data ------------------------------------------------------------------------------------------

@data_app.command("multi30k")
def data_multi30k(
    out: Path = typer.Option(..., "--out",
                             help="Folder for train/val/test2016/test2017 .SRC/.TGT text files."),
    src: str = typer.Option("de", "--src", help="Source language: de, en, fr or cs."),
    tgt: str = typer.Option("en", "--tgt", help="Target language: de, en, fr or cs."),
    mirror: str | None = typer.Option(None, "--mirror", help="Folder or URL holding the .gz files "
                                         "(default: $NMT_MULTI30K_MIRROR, else the official repository)."),
    force: bool = typer.Option(False, "--force", help="Overwrite files that already exist."),
):
    """Get Multi30k task 1 (sha256-verified) as plain text.

    \b
    Example: nmt data multi30k --out data/multi30k --src de --tgt en --mirror ../shared/data/multi30k
    """
    from nmt.fetch import fetch_multi30k
    for path, lines in fetch_multi30k(out, src, tgt, mirror, force=force):
        typer.echo(f"{path}\t{lines} lines")


# -- tokenizers and prepared data ---------------------------------------------------------------------

@app.command("train-tokenizer")
def train_tokenizer(
    src: Path = typer.Option(..., "--src", exists=True, dir_okay=False, readable=True,
                             help="Source training text."),
    tgt: Path = typer.Option(..., "--tgt", exists=True, dir_okay=False, readable=True,
                             help="Target training text."),
    out: Path = typer.Option(..., "--out", help="Folder for src.model and tgt.model."),
    vocab_size: int = typer.Option(8000, "--vocab-size", min=8, help="Pieces per model."),
    model_type: str = typer.Option("unigram", "--model-type", help="unigram, bpe, char or word."),
    joint: bool = typer.Option(False, "--joint", help="One model shared by both sides."),
    sample: int = typer.Option(1_000_000, "--sample", min=1,
                               help="Sentences sampled for training (big corpora)."),
    force: bool = typer.Option(False, "--force", help="Overwrite models already in --out."),
):
    """Train sentencepiece tokenizers for both sides.

    Special ids are fixed in every model: pad 0, unk 1, bos 2, eos 3.

    \b
    Example: nmt train-tokenizer --src data/multi30k/train.de --tgt data/multi30k/train.en --out tok
    """
    from nmt.tokenizer import train_tokenizers
    if (out / "src.model").exists() and not force:
        raise NMTError(f"{out} already holds tokenizers; pass --force to overwrite or choose another --out")
    summary = train_tokenizers(src, tgt, out, vocab_size, model_type, joint, sample)
    for side in ("src", "tgt"):
        s = summary[side]
        typer.echo(f"{side}: {out / (side + '.model')}  vocab {s['vocab_size']}  "
                   f"unknown pieces {100 * s['unk_share']:.3f}%")


@app.command()
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
    from nmt.tokenizer import load_tokenizers
    if out.exists() and not force:
        raise NMTError(f"{out} already exists; pass --force to replace it or choose another --out")
    src_tok, tgt_tok = load_tokenizers(tokenizers)
    stats = run_prepare(src, tgt, src_tok, tgt_tok, out, max_len)
    typer.echo(f"{out}: kept {stats.kept} of {stats.pairs} pairs; dropped {stats.dropped_empty} empty, "
               f"{stats.dropped_long} longer than {max_len} tokens")


# -- training ----------------------------------------------------------------------------------------

@app.command()
def train(
    config: Path | None = typer.Option(None, "--config", help="YAML config (see configs/)."),
    out: Path | None = typer.Option(None, "--out", help="Run folder to create."),
    resume: Path | None = typer.Option(None, "--resume", help="Run folder to continue from its last.pt."),
    train_src: str | None = typer.Option(None, "--train-src"),
    train_tgt: str | None = typer.Option(None, "--train-tgt"),
    valid_src: str | None = typer.Option(None, "--valid-src"),
    valid_tgt: str | None = typer.Option(None, "--valid-tgt"),
    tokenizers: str | None = typer.Option(None, "--tokenizers", help="Folder from `nmt train-tokenizer` "
                                             "(default: train them into the run folder)."),
    max_steps: int | None = typer.Option(None, "--max-steps", min=0),
    max_minutes: float | None = typer.Option(None, "--max-minutes", min=0),
    seed: int | None = typer.Option(None, "--seed"),
    threads: int | None = typer.Option(None, "--threads", min=0, help="CPU threads (0: torch's default)."),
    reset_optimizer: bool = typer.Option(False, "--reset-optimizer",
                                         help="On resume: fresh Adam state and lr."),
    device: str | None = typer.Option(None, "--device", help="cpu or cuda (default: cuda when present)."),
    dtype: str | None = typer.Option(None, "--dtype", help="fp32, bf16 (autocast matrix products) or auto "
                                        "(bf16 where the GPU or CPU has bf16 instructions, else fp32)."),
    overrides: list[str] = typer.Option([], "--set",
                                        help="Override a config key: --set model.hidden=512 (repeatable)."),
):
    """Train or resume a reversed-input LSTM encoder-decoder.

    \b
    Examples:
      nmt train --config configs/multi30k-de-en-small.yaml --out runs/small --max-minutes 10
      nmt train --resume runs/small --max-steps 5000
    """
    from nmt import config as config_mod
    if (out is None) == (resume is None):
        raise NMTError("give either --out RUN_DIR for a new run or --resume RUN_DIR to continue one")
    flags = {"data.train_src": train_src, "data.train_tgt": train_tgt, "data.valid_src": valid_src,
             "data.valid_tgt": valid_tgt, "data.tokenizers": tokenizers, "train.max_steps": max_steps,
             "train.max_minutes": max_minutes, "train.seed": seed, "train.threads": threads,
             "train.dtype": dtype}
    sets = [f"{k}={json.dumps(v)}" for k, v in flags.items() if v is not None] + list(overrides)
    if resume is not None and config is not None:
        raise NMTError("--resume uses the run's own config; change train settings with --set train.KEY=VALUE")
    cfg = config_mod.load(config, sets)
    changed = {item.partition("=")[0].strip() for item in sets}
    from nmt import train as train_mod  # after the config is known good: importing torch takes a second
    summary = train_mod.run(cfg, resume or out, resume=resume is not None, changed=changed,
                            reset_optimizer=reset_optimizer, device=device)
    if summary["reason"] == "interrupted":
        _echo(f"interrupted at step {summary['step']}; continue with: nmt train --resume {resume or out}")
        raise typer.Exit(130)


# -- decoding and scoring -----------------------------------------------------------------------------
# Options shared by translate and evaluate; their defaults are DecodeConfig's (config.py).
D = DecodeConfig()
Models = Annotated[list[str], typer.Option("--model", help="Run folder or checkpoint; repeat for an "
                                           "ensemble.")]
Beam = Annotated[int, typer.Option("--beam", min=1, help="Beam size.")]
Greedy = Annotated[bool, typer.Option("--greedy", help="Greedy search (same as --beam 1).")]
LengthPenalty = Annotated[float, typer.Option("--length-penalty", min=0, help="GNMT alpha (0: none).")]
MaxLenRatio = Annotated[float, typer.Option(
    "--max-len-ratio", min=0, help=f"Hypotheses stop at ratio * source length + {D.max_len_extra}.")]
MaxTokens = Annotated[int, typer.Option("--max-tokens", min=1, help="Source tokens per batch.")]
BatchSize = Annotated[int, typer.Option("--batch-size", min=1, help="Sentences per batch.")]
Exhaustive = Annotated[bool, typer.Option("--exhaustive", help="Beam: continue a sentence until `beam` "
                                          "hypotheses have ended (default: stop once its best candidate "
                                          "has ended).")]
Device = Annotated[str | None, typer.Option("--device", help="cpu or cuda (default: cuda when present; "
                                               "cpu with --quantize).")]
Threads = Annotated[int, typer.Option("--threads", min=0, help="CPU threads (0: torch's default).")]
Quantize = Annotated[str | None, typer.Option("--quantize", help="int8: int8 weights for faster CPU decoding "
                                                 "(slightly different output; see README, Translating).")]


def _decode_config(*, beam: int, greedy: bool, n_best: int = D.n_best, length_penalty: float,
                   max_len_ratio: float, max_tokens: int, batch_size: int, exhaustive: bool) -> DecodeConfig:
    beam = 1 if greedy else beam
    if n_best > beam:
        raise NMTError(f"--n-best {n_best} needs a beam at least as wide (--beam {n_best})")
    return DecodeConfig(beam=beam, n_best=n_best, length_penalty=length_penalty, max_len_ratio=max_len_ratio,
                        max_tokens=max_tokens, max_sentences=batch_size, stop_early=not exhaustive)


def _translator(models: list[str], *, device: str | None, threads: int, quantize: str | None):
    import torch

    from nmt.translate import Translator
    if threads:
        torch.set_num_threads(threads)
    device = device or ("cpu" if quantize or not torch.cuda.is_available() else "cuda")
    return Translator.load(models, device=device, quantize=quantize)


def _input_lines(path: str):
    from nmt.fileio import decode_lines, read_lines
    if path != "-" and (not Path(path).exists() or Path(path).is_dir()):  # pipes and devices are fine
        raise NMTError(f"{path}: no such input file")
    return decode_lines(sys.stdin.buffer, "standard input") if path == "-" else read_lines(path)


@app.command()
def translate(
    model: Models,
    input: str = typer.Option("-", "--input", "-i", help="Text file, or - for standard input."),
    output: str = typer.Option("-", "--output", "-o",
                               help="File (written atomically), or - for standard output."),
    beam: Beam = D.beam,
    greedy: Greedy = False,
    n_best: int = typer.Option(D.n_best, "--n-best", min=1,
                               help="Print K hypotheses per line (see --scores format)."),
    scores: bool = typer.Option(False, "--scores", help="Print INDEX<TAB>SCORE<TAB>TEXT lines."),
    length_penalty: LengthPenalty = D.length_penalty,
    max_len_ratio: MaxLenRatio = D.max_len_ratio,
    max_tokens: MaxTokens = D.max_tokens,
    batch_size: BatchSize = D.max_sentences,
    exhaustive: Exhaustive = not D.stop_early,
    device: Device = None,
    threads: Threads = 0,
    quantize: Quantize = None,
):
    """Translate text: one output line per input line, in order.

    \b
    Examples:
      nmt translate --model runs/small < test.de > hyp.en
      nmt translate --model runs/small --input test.de --output hyp.en --greedy
      nmt translate --model a.pt --model b.pt --n-best 5 --input test.de

    With --scores or --n-best > 1 each line is INDEX<TAB>SCORE<TAB>TRANSLATION (INDEX counts input lines
    from 0; SCORE is the length-normalised log-probability), n-best lists best first.
    """
    from nmt.fileio import atomic_path
    cfg = _decode_config(beam=beam, greedy=greedy, n_best=n_best, length_penalty=length_penalty,
                         max_len_ratio=max_len_ratio, max_tokens=max_tokens, batch_size=batch_size,
                         exhaustive=exhaustive)
    lines = _input_lines(input)
    translator = _translator(model, device=device, threads=threads, quantize=quantize)
    tabular = scores or n_best > 1

    def emit(f) -> None:
        # UTF-8 bytes whatever the locale; flushed per chunk so a pipe sees output as it is made
        for index, nbest in enumerate(translator.translate(lines, cfg)):
            if tabular:
                text = "".join(f"{index}\t{hyp.score:.4f}\t{t}\n" for t, hyp in nbest)
            else:
                text = nbest[0][0] + "\n"
            f.write(text.encode("utf-8"))
            if index % 256 == 255:
                f.flush()
        f.flush()

    if output == "-":
        emit(sys.stdout.buffer)
    else:
        with atomic_path(output) as tmp, open(tmp, "wb") as f:
            emit(f)
    if translator.truncated:
        _echo(f"warning: {translator.truncated} input line(s) were longer than the model's limit "
              "and were truncated")


@app.command()
def evaluate(
    hyp: Path | None = typer.Option(None, "--hyp", help="Hypotheses, one per line."),
    ref: list[Path] = typer.Option(..., "--ref", help="References; repeat for several reference sets."),
    metrics: str = typer.Option("bleu,chrf", "--metrics", help="Comma-separated: bleu, chrf, ter."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines instead of text."),
    model: Models = (),
    src: Path | None = typer.Option(None, "--src", help="Source text to translate (with --model)."),
    save_hyp: Path | None = typer.Option(None, "--save-hyp",
                                         help="With --model: also write the hypotheses here."),
    beam: Beam = D.beam,
    greedy: Greedy = False,
    length_penalty: LengthPenalty = D.length_penalty,
    max_len_ratio: MaxLenRatio = D.max_len_ratio,
    max_tokens: MaxTokens = D.max_tokens,
    batch_size: BatchSize = D.max_sentences,
    exhaustive: Exhaustive = not D.stop_early,
    device: Device = None,
    threads: Threads = 0,
    quantize: Quantize = None,
):
    """Score translations with sacreBLEU (BLEU, chrF, TER).

    With --model, translate --src first (decoding options as in `nmt translate`).

    \b
    Examples:
      nmt evaluate --hyp hyp.en --ref data/multi30k/test2016.en
      nmt evaluate --model runs/small --src data/multi30k/test2016.de --ref data/multi30k/test2016.en --beam 5
    """
    from nmt.evaluate import parse_metrics, score_files
    from nmt.fileio import atomic_write_text, read_lines
    names = parse_metrics(metrics)
    if bool(model) == (hyp is not None):
        raise NMTError("give either --hyp FILE, or --model M with --src FILE")
    if model:
        if src is None:
            raise NMTError("--model needs --src FILE to translate")
        cfg = _decode_config(beam=beam, greedy=greedy, length_penalty=length_penalty,
                             max_len_ratio=max_len_ratio, max_tokens=max_tokens, batch_size=batch_size,
                             exhaustive=exhaustive)
        lines = _input_lines(str(src))
        translator = _translator(model, device=device, threads=threads, quantize=quantize)
        hyps = [nbest[0][0] for nbest in translator.translate(lines, cfg)]
        if save_hyp:
            atomic_write_text(save_hyp, "".join(h + "\n" for h in hyps))
    else:
        hyps = list(read_lines(hyp))
    for result in score_files(hyps, ref, names, hyp_name=str(hyp or src)):
        typer.echo(json.dumps(result) if as_json else f"{result['text']}\n  signature: {result['signature']}")


@app.command()
def average(
    checkpoints: list[Path] = typer.Argument(..., help="Checkpoints of one run (e.g. runs/x/step_*.pt)."),
    out: Path = typer.Option(..., "--out", help="Averaged checkpoint to write."),
):
    """Average the weights of several checkpoints into one.

    \b
    Example: nmt average runs/small/step_*.pt --out runs/small/avg.pt
    """
    from nmt.checkpoint import average as run_average
    n = run_average(checkpoints, out)
    typer.echo(f"{out}: average of {n} checkpoints")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    for handler in logging.getLogger().handlers:
        handler.addFilter(for_console)  # the live progress line stands for some records on a terminal
    app()  # standalone: reports usage errors itself and exits
