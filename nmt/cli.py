"""The `nmt` command: argument checking and one library call per command.

Only this module and cli_decode.py (translate, evaluate) import Typer."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

try:
    import typer
    from typer.core import TyperGroup
except ImportError:  # the base install translates exported models only (nmt-lite), with no Typer
    sys.exit("error: this install has no `nmt` command: translate exported models with `nmt-lite translate`, "
             "or install the full toolkit: pip install 'nmt[full]'")

from nmt import NMTError, __version__, cli_data, cli_decode
from nmt.config import ShortlistConfig
from nmt.training.progress import for_console

SHORTLIST = ShortlistConfig()  # `nmt shortlist` defaults


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
app.add_typer(cli_data.app, name="data")
app.command("train-tokenizer")(cli_data.train_tokenizer)  # tokenizers and prepared data (cli_data.py)
app.command()(cli_data.prepare)


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
    tensorboard: bool = typer.Option(False, "--tensorboard", help="Also write TensorBoard event files into "
                                     "RUN/tensorboard (pip install 'nmt[tensorboard]'); view with "
                                     "`tensorboard --logdir RUN`."),
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
             "train.dtype": dtype, "train.tensorboard": tensorboard or None}
    sets = [f"{k}={json.dumps(v)}" for k, v in flags.items() if v is not None] + list(overrides)
    # files named on the command line take the place of a config's lists of corpora and validation sets
    sets = [f"data.{many}=[]" for many, one in (("corpora", train_src), ("valid", valid_src)) if one] + sets
    if resume is not None and config is not None:
        raise NMTError("--resume uses the run's own config; change train settings with --set train.KEY=VALUE")
    cfg = config_mod.load(config, sets)
    changed = {item.partition("=")[0].strip() for item in sets}
    from nmt.training import trainer  # after the config is known good: importing torch takes a second
    summary = trainer.run(cfg, resume or out, resume=resume is not None, changed=changed,
                            reset_optimizer=reset_optimizer, device=device)
    if summary["reason"] == "interrupted":
        _echo(f"interrupted at step {summary['step']}; continue with: nmt train --resume {resume or out}")
        raise typer.Exit(130)


# -- decoding and scoring (cli_decode.py) ------------------------------------------------------------
app.command()(cli_decode.translate)
app.command()(cli_decode.evaluate)
app.command()(cli_decode.serve)


@app.command("shortlist")
def shortlist_cmd(
    model: Path = typer.Option(..., "--model", help="Run folder (or a checkpoint in it)."),
    k: int = typer.Option(SHORTLIST.k, "--k", min=1, help="Target pieces listed per source piece."),
    frequent: int = typer.Option(SHORTLIST.frequent, "--frequent", min=0,
                                 help="Most frequent target pieces listed for every sentence."),
    src: Path | None = typer.Option(None, "--src", help="Training source text (default: the run's prepared "
                                    "corpus)."),
    tgt: Path | None = typer.Option(None, "--tgt", help="Training target text, with --src."),
):
    """Build the run's decoding shortlist (shortlist.bin), used by `nmt translate --shortlist`.

    For each source piece, the K target pieces it co-occurs with most in the training pairs, plus the
    most frequent target pieces. `nmt train` builds one with the defaults.

    \b
    Example: nmt shortlist --model runs/small --k 100
    """
    from nmt.shortlist import build_for_run
    path, vocab = build_for_run(model, ShortlistConfig(k=k, frequent=frequent), src=src, tgt=tgt)
    typer.echo(f"{path}: {k} target pieces per source piece and the {frequent} most frequent, of {vocab}")


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


@app.command("export")
def export_model(
    model: str = typer.Argument(..., help="Run folder (its best.pt) or checkpoint; with --web also a folder "
                                "`nmt export` wrote."),
    out: Path | None = typer.Option(None, "--out", help="Folder to write (replaced if it exists)."),
    format: str = typer.Option("onnx", "--format", help="onnx (the only format)."),
    int8: bool = typer.Option(False, "--int8", help="Also write int8 graphs (activations quantized "
                                                     "per row); `nmt-lite translate --int8` uses them."),
    web: Path | None = typer.Option(None, "--web", help="Also write a web folder here: a page that "
                                    "translates in the browser, offline, from disk or any static host."),
    web_graphs: str = typer.Option("int8", "--web-graphs", help="The graphs the web folder carries: int8, "
                                   "fp32, or both as int8,fp32 (the first is the page's default)."),
):
    """Export a model to ONNX, to translate without PyTorch (`nmt-lite translate`, nmt.lite, `nmt serve
    --engine onnx`), and with --web into the browser. The graphs are checked against the torch model before
    the folder is written.

    \b
    Example:
      nmt export runs/small --out runs/small/onnx
      echo 'Ein Hund läuft.' | nmt-lite translate --model runs/small/onnx
      nmt export runs/small --out runs/small/onnx --int8 --web runs/small/web
      (then open runs/small/web/index.html)
    """
    if format != "onnx":
        raise NMTError(f"--format takes onnx, got {format!r}")
    graphs = tuple(g.strip() for g in web_graphs.split(",") if g.strip())
    exported = Path(model) if (Path(model) / "nmt-export.json").is_file() else None
    if exported is None:
        if out is None:
            raise NMTError("--out is needed: the folder to write the ONNX graphs into")
        try:
            from nmt.export import export
        except ImportError as e:
            raise NMTError(f"exporting needs onnx and onnxruntime ({e.name} is missing): "
                           "pip install 'nmt[export]'") from None
        int8 = int8 or (web is not None and "int8" in graphs)
        meta = export(model, out, int8=int8)
        typer.echo(f"{out}: encoder.onnx, decoder.onnx{' and their int8 copies' if int8 else ''}; checked: "
                   f"log-probabilities within {meta['max_difference']:.1e} of torch's")
        exported = out
    elif web is None:
        raise NMTError(f"{model} is already an export; add --web DIR to make a web folder of it")
    if web is not None:
        from nmt.web import build, size_mb
        build(exported, web, graphs)
        typer.echo(f"{web}: open {web / 'index.html'} in a browser, or put the folder on any static host "
                   f"({size_mb(web):.1f} MB, {', '.join(graphs)} graphs)")


@app.command()
def plot(
    runs: list[Path] = typer.Argument(None, help="Run folders (each with its metrics.jsonl)."),
    out: Path = typer.Option(..., "--out", help="Picture to write: .png, .svg or .pdf."),
    x: str = typer.Option("steps", "--x", help="steps, or minutes (wall clock since a run's first record)."),
    by_length: bool = typer.Option(False, "--by-length", help="BLEU by source length of the --hyp files "
                                   "instead (with --src and --ref)."),
    hyp: list[Path] = typer.Option([], "--hyp", help="With --by-length: a hypothesis file (repeatable); "
                                   "its label is its name, or LABEL=FILE."),
    src: Path | None = typer.Option(None, "--src", help="With --by-length: the source lines."),
    ref: Path | None = typer.Option(None, "--ref", help="With --by-length: the references."),
):
    """Plot training curves (training loss, validation perplexity and BLEU; several runs overlaid), or
    with --by-length BLEU by source length for several hypothesis files.

    \b
    Examples:
      nmt plot runs/small --out curves.png
      nmt plot runs/small runs/big --out curves.svg --x minutes
      nmt plot --by-length --src test.de --ref test.en --hyp plain=a.en --hyp attention=b.en --out len.png
    """
    if by_length:
        _plot_by_length(hyp, src, ref, out)
        return
    if not runs:
        raise NMTError("give run folders to plot, or --by-length with --hyp files")
    from nmt.plot import plot as run_plot
    run_plot(runs, out, x=x)
    typer.echo(f"{out}: curves of {len(runs)} run(s)")


def _plot_by_length(hyps: list[Path], src: Path | None, ref: Path | None, out: Path) -> None:
    from nmt.evaluate import by_length
    from nmt.fileio import read_lines
    from nmt.plot import by_length as draw
    if not hyps or src is None or ref is None:
        raise NMTError("--by-length needs --src, --ref and at least one --hyp")
    sources, refs = list(read_lines(src)), list(read_lines(ref))
    tables = {}
    for item in map(str, hyps):
        label, _, path = item.rpartition("=") if "=" in item else (Path(item).name, "", item)
        tables[label] = by_length(list(read_lines(path)), [refs], sources, ["bleu"])
    draw(tables, out)
    typer.echo(f"{out}: BLEU by source length of {len(tables)} hypothesis file(s)")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    for handler in logging.getLogger().handlers:
        handler.addFilter(for_console)  # the live progress line stands for some records on a terminal
    app()  # standalone: reports usage errors itself and exits
