"""The `nmt translate`, `nmt evaluate` and `nmt serve` commands (registered on the app in cli.py); the
decoding options they share are declared once, in cli_options.py."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import stat
import sys
from pathlib import Path
from typing import Annotated

import typer

from nmt import NMTError
from nmt.cli_options import decoding_options
from nmt.config import DecodeConfig, RuntimeConfig, ServeConfig
from nmt.console import Progress
from nmt.document_io import AUTO, choose_format, refuse_binary_as_text, translate_document_io

SERVE = ServeConfig()  # the defaults of `nmt serve`'s limits
Models = Annotated[list[str],
                   typer.Option("--model", help="Run folder or checkpoint; repeat for an ensemble.")]
GlossaryFile = Annotated[str | None, typer.Option(
    "--glossary", help="TSV file, SOURCE<TAB>TARGET per line: a source term found in a sentence (whole "
                       "words) is translated as its target term; a term mapped to itself is kept as it "
                       "is. Constraints need a beam of at least their pieces + 1: a sentence that has "
                       "some decodes with that beam (also with --greedy).")]
GlossaryCase = Annotated[bool, typer.Option("--glossary-ignore-case",
                                            help="Find glossary terms whatever their case.")]


def _glossary(path: str | None, ignore_case: bool):
    if path is None:
        return None
    from nmt.text.glossary import Glossary
    return Glossary.load(path, ignore_case=ignore_case)


def _constraint_lines(path: str | None):
    """One JSON list of target phrases per line of FILE (fairseq's and Sockeye's convention)."""
    if path is None:
        return None
    from nmt.fileio import read_lines
    if not Path(path).is_file():
        raise NMTError(f"{path}: no such constraints file")

    def lines():
        for number, line in enumerate(read_lines(path), start=1):
            try:
                phrases = json.loads(line) if line.strip() else []
            except json.JSONDecodeError as e:
                raise NMTError(f"{path}:{number}: not JSON ({e.msg}); write a list of phrases, e.g. "
                               '["red hat", "Berlin"], or [] for none') from None
            if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
                raise NMTError(f"{path}:{number}: not a list of phrases; write e.g. [\"red hat\"], "
                               "or [] for none")
            yield phrases
    return lines()


def _translator(models: list[str], runtime: RuntimeConfig):
    from nmt.translate import Translator  # imports torch: after the options are known good
    return Translator.load(models, runtime)


def _input_lines(path: str):
    from nmt.fileio import decode_lines, read_lines
    if path != "-" and (not Path(path).exists() or Path(path).is_dir()):  # pipes and devices are fine
        raise NMTError(f"{path}: no such input file")
    return decode_lines(sys.stdin.buffer, "standard input") if path == "-" else read_lines(path)


def _input_size(path: str) -> int | None:
    """The input's size in bytes when it is a regular file (standard input redirected from one, too):
    what the progress line's time left is reckoned against."""
    with contextlib.suppress(OSError):
        info = os.fstat(sys.stdin.fileno()) if path == "-" else os.stat(path)
        return info.st_size if stat.S_ISREG(info.st_mode) else None
    return None


@decoding_options(n_best=True)
def translate(
    model: Models,
    input: str = typer.Option("-", "--input", "-i", help="Text file or document (.docx, .pptx, .odt, .odp, "
                              ".epub, .srt, .vtt, .md, .html, .pdf), or - for standard input."),
    output: str = typer.Option("-", "--output", "-o",
                               help="File (written atomically), or - for standard output."),
    scores: bool = typer.Option(False, "--scores", help="Print INDEX<TAB>SCORE<TAB>TEXT lines."),
    glossary: GlossaryFile = None,
    glossary_ignore_case: GlossaryCase = False,
    constraints: str | None = typer.Option(
        None, "--constraints", help="A JSON list of target phrases per input line (e.g. [\"red hat\"]; "
                                    "[] for none) that its translation must hold; lines are not split."),
    format: str = typer.Option(AUTO, "--format",
                               help="auto: by the input's extension (text for standard input); text: line "
                                    "by line; html: the whole input is one HTML page, translated with its "
                                    "markup kept; or a document kind: md, srt, vtt, docx, pptx, odt, odp, "
                                    "epub, pdf (see docs/guide/documents.md)."),
    attention_out: str | None = typer.Option(None, "--attention-out",
                                             help="Also write, for each output line, its attention weights "
                                                  "as a JSON line (models with attention)."),
    *, decode: DecodeConfig, runtime: RuntimeConfig,
):
    """Translate text: one output line per input line, in order.

    \b
    Examples:
      nmt translate --model runs/small < test.de > hyp.en
      nmt translate --model runs/small --input test.de --output hyp.en --greedy
      nmt translate --model a.pt --model b.pt --n-best 5 --input test.de
      printf 'Hund\\tdog\\nMüller\\tMüller\\n' > terms.tsv
      echo 'Herr Müller und sein Hund.' | nmt translate --model runs/small --glossary terms.tsv
      nmt translate --model runs/small --input report.docx --output report.en.docx
      nmt translate --model runs/small --input film.de.srt --output film.en.srt

    With --scores or --n-best > 1 each line is INDEX<TAB>SCORE<TAB>TRANSLATION (INDEX counts input lines
    from 0; SCORE is the length-normalised log-probability), n-best lists best first. With --attention-out
    each JSON line is {"index", "source": pieces, "target": pieces, "weights": one row per target piece
    over the source pieces} for the best translation. With --format html the input is one HTML page and
    the output that page translated: tags, attributes, entities and comments kept, script, style, code, pre
    and translate="no" untouched. A document (by its extension, or --format) comes back as the same kind
    of file with its formatting kept; a PDF comes back as text or HTML (--output's extension).
    """
    format = choose_format(format, input)
    if format != "text" and (scores or decode.n_best > 1 or attention_out or constraints):
        raise NMTError(f"--format {format} writes the translated {'page' if format == 'html' else 'file'} "
                       "only; --scores, --n-best, --attention-out and --constraints work with --format text")
    refuse_binary_as_text(input, format)
    terms, explicit = _glossary(glossary, glossary_ignore_case), _constraint_lines(constraints)
    if format != "text":  # an HTML page or another document, whole
        translate_document_io(_translator(model, runtime), input, output, format, glossary=terms,
                              **dataclasses.asdict(decode))
        return
    lines = _input_lines(input)
    translator = _translator(model, runtime)
    if attention_out:
        translator.require_attention()  # refuse before translating anything
    with contextlib.ExitStack() as files:
        from nmt.formatting import write_translations
        progress = Progress(_input_size(input))
        write_translations(translator, lines,
                           sys.stdout.buffer if output == "-" else _atomic_file(files, output), cfg=decode,
                           scored=scores or decode.n_best > 1,
                           attention=_atomic_file(files, attention_out) if attention_out else None,
                           progress=progress, glossary=terms, explicit=explicit)
        progress.close()
    _report_long_inputs(translator)


def _atomic_file(files: contextlib.ExitStack, path: str):
    """A binary file at `path`, written atomically when `files` closes without an error."""
    from nmt.fileio import atomic_path
    return files.enter_context(open(files.enter_context(atomic_path(path)), "wb"))


def _report_long_inputs(translator) -> None:
    limit = translator.max_src_len
    for count, said in (("cut", f"warning: {{}} sentence(s) were longer than the model's limit of {limit} "
                                "tokens and were translated in pieces"),
                        ("too_many", "warning: {} constraint(s) beyond a sentence's limit of pieces were "
                                     "dropped (see the log)"),
                        ("truncated", "warning: {} word(s) were longer than the model's limit on their own "
                                      "and were truncated"),
                        ("unplaced", "note: {} sentence(s) did not carry their placeholders and were "
                                     "translated again with them as constraints")):
        if getattr(translator.counts, count):
            typer.echo(said.format(getattr(translator.counts, count)), err=True)


@decoding_options()
def evaluate(
    hyp: Path | None = typer.Option(None, "--hyp", help="Hypotheses, one per line."),
    ref: list[Path] = typer.Option(..., "--ref", help="References; repeat for several reference sets."),
    metrics: str = typer.Option("bleu,chrf", "--metrics", help="Comma-separated: bleu, chrf, ter."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines instead of text."),
    model: Models = (),
    src: Path | None = typer.Option(None, "--src", help="Source text to translate (with --model)."),
    save_hyp: Path | None = typer.Option(None, "--save-hyp",
                                         help="With --model: also write the hypotheses here."),
    by_length: bool = typer.Option(False, "--by-length", help="Also score each source-length bucket "
                                   "(words: 1-10, 11-20, 21-30, 31-50, 51+) apart; needs --src."),
    *, decode: DecodeConfig, runtime: RuntimeConfig,
):
    """Score translations with sacreBLEU (BLEU, chrF, TER).

    With --model, translate --src first (decoding options as in `nmt translate`).

    \b
    Examples:
      nmt evaluate --hyp hyp.en --ref data/multi30k/test2016.en
      nmt evaluate --model runs/small --src data/multi30k/test2016.de --ref data/multi30k/test2016.en --beam 5
      nmt evaluate --hyp hyp.en --src test2016.de --ref test2016.en --by-length
    """
    from nmt.evaluate import parse_metrics, score_files
    from nmt.fileio import read_lines
    names = parse_metrics(metrics)
    if by_length and src is None:
        raise NMTError("--by-length needs --src FILE: the source lines whose lengths make the buckets")
    if bool(model) == (hyp is not None):
        raise NMTError("give either --hyp FILE, or --model M with --src FILE")
    if model and src is None:
        raise NMTError("--model needs --src FILE to translate")
    hyps = _translated(model, src, save_hyp, decode, runtime) if model else list(read_lines(hyp))
    for result in score_files(hyps, ref, names, hyp_name=str(hyp or src)):
        typer.echo(json.dumps(result) if as_json else f"{result['text']}\n  signature: {result['signature']}")
    if by_length:
        _print_by_length(hyps, ref, src, names, as_json)


def _translated(model: list[str], src: Path, save_hyp: Path | None, decode: DecodeConfig,
                runtime: RuntimeConfig) -> list[str]:
    """`evaluate --model`: the best translation of each line of `src`, saved to `save_hyp` if given."""
    from nmt.fileio import atomic_write_text
    from nmt.formatting import with_sources
    lines = _input_lines(str(src))
    translator = _translator(model, runtime)
    progress, hyps = Progress(_input_size(str(src))), []
    for source, nbest in with_sources(translator, lines, decode):
        hyps.append(nbest[0][0])
        progress.done(source)
    progress.close()
    if save_hyp:
        atomic_write_text(save_hyp, "".join(h + "\n" for h in hyps))
    _report_long_inputs(translator)
    return hyps


def _print_by_length(hyps: list[str], refs: list[Path], src: Path, names: list[str], as_json: bool) -> None:
    from nmt.evaluate import by_length as buckets
    from nmt.fileio import read_lines
    table = buckets(hyps, [list(read_lines(r)) for r in refs], list(read_lines(src)), names)
    if as_json:
        typer.echo(json.dumps({"by_length": table}))
        return
    typer.echo("by source length (words):")
    for row in table:
        typer.echo(f"  {row['bucket']:>6}  {row['sentences']:5d} sentences  " +
                   "  ".join(f"{name} {row[name]:.2f}" for name in names))


@decoding_options()
def serve(
    model: list[str] = typer.Option(..., "--model", help="Run folder or checkpoint; repeat for more language "
                                    "pairs, one model each."),
    pair: list[str] = typer.Option([], "--pair", help="SRC-TGT for each --model, in order (default: from "
                                   "the names of its training files, e.g. train.de/train.en: de-en)."),
    host: str = typer.Option(SERVE.host, "--host",
                             help="Address to listen on (127.0.0.1: this machine only)."),
    port: int = typer.Option(SERVE.port, "--port", min=1, max=65535),
    api_key: str | None = typer.Option(None, "--api-key", envvar="NMT_API_KEY",
                                       help="Require this key (header X-API-Key, Authorization: Bearer, or "
                                            "the api_key field); also read from $NMT_API_KEY."),
    max_body: int = typer.Option(SERVE.max_body, "--max-body", min=1, help="Bytes per request."),
    max_chars: int = typer.Option(SERVE.max_chars, "--max-chars", min=1, help="Characters per text."),
    max_texts: int = typer.Option(SERVE.max_texts, "--max-texts", min=1, help="Texts per request."),
    max_queue: int = typer.Option(SERVE.max_queue, "--max-queue", min=1,
                                  help="Sentences waiting or being decoded; beyond it requests get 429."),
    batch_wait_ms: float = typer.Option(SERVE.batch_wait_ms, "--batch-wait-ms", min=0,
                                        help="How long a lone request waits for others to share a decode."),
    max_beam: int = typer.Option(SERVE.max_beam, "--max-beam", min=1,
                                 help="Widest beam a request may ask for."),
    max_file: int = typer.Option(SERVE.max_file, "--max-file", min=1,
                                 help="Bytes of a document sent to /translate_file."),
    file_minutes: float = typer.Option(SERVE.file_minutes, "--file-minutes", min=0.01,
                                       help="How long a translated document waits for its download."),
    allow_origin: list[str] = typer.Option(list(SERVE.allow_origins), "--allow-origin",
                                           help="A web origin (e.g. http://localhost:8080) whose pages may "
                                                "call the API from a browser; repeat for more, * for any "
                                                "(default: none, same-origin only)."),
    engine: str = typer.Option("torch", "--engine",
                               help="torch, or onnx: folders written by `nmt export`, decoded without "
                                    "PyTorch (--quantize int8 takes the export's int8 graphs)."),
    web: list[Path] = typer.Option([], "--web", help="A web folder (`nmt export --web`) to offer at "
                                   "/offline/SRC-TGT/: the page links to it, and the browser then "
                                   "translates on its own; repeatable."),
    *, decode: DecodeConfig, runtime: RuntimeConfig,
):
    """Serve models over HTTP: a LibreTranslate-compatible API, nmt's own API and a page at /.

    One model per language pair. Requests that arrive together are decoded together. SIGTERM or
    Ctrl-C finishes the requests in flight, then stops.

    \b
    Examples:
      nmt serve --model runs/small
      nmt serve --model runs/de-en --model runs/en-de --port 8080
      nmt serve --engine onnx --model runs/small/onnx
      curl -s localhost:5000/translate -H 'Content-Type: application/json' \\
           -d '{"q": "Ein Hund läuft.", "source": "de", "target": "en"}'
    """
    from nmt.serving.server import serve as run_server
    limits = ServeConfig(host=host, port=port, max_body=max_body, max_chars=max_chars, max_texts=max_texts,
                         max_queue=max_queue, batch_wait_ms=batch_wait_ms, max_beam=max_beam,
                         allow_origins=tuple(allow_origin), max_file=max_file, file_minutes=file_minutes)
    run_server(model, pairs=pair, decode=decode, serve_cfg=limits, api_key=api_key, runtime=runtime,
               engine=engine, web=web)
