"""`nmt-lite translate --model DIR`: translate with an exported model, without PyTorch.

One output line per input line, in order, as `nmt translate` writes them. Standard library argparse:
the lite install brings no command-line framework.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys

from nmt import NMTError
from nmt.config import CHOICES as SETTINGS
from nmt.config import DecodeConfig
from nmt.document_io import AUTO, CHOICES, choose_format, refuse_binary_as_text, translate_document_io

DECODE = DecodeConfig()  # where every default comes from
GLOSSARY_MODES = SETTINGS[("decode", "glossary_mode")]


def parser() -> argparse.ArgumentParser:
    """`nmt-lite`'s arguments; its `translate` subcommand's parser is its attribute `translate`."""
    parser = argparse.ArgumentParser(prog="nmt-lite", description="Translate with a model exported by "
                                     "`nmt export`, on ONNX Runtime (no PyTorch).")
    commands = parser.add_subparsers(dest="command", required=True)
    tr = commands.add_parser("translate", help="Translate text: one output line per input line.")
    tr.add_argument("--model", required=True, help="The folder `nmt export` wrote.")
    tr.add_argument("--input", "-i", default="-", help="Text file or document (.docx, .pptx, .odt, .odp, "
                    ".epub, .srt, .vtt, .md, .html, .pdf), or - for standard input.")
    tr.add_argument("--output", "-o", default="-",
                    help="File (written atomically), or - for standard output.")
    tr.add_argument("--beam", type=int, default=DECODE.beam, help="Beam size (default %(default)s).")
    tr.add_argument("--greedy", action="store_true", help="Greedy search (same as --beam 1).")
    tr.add_argument("--n-best", type=int, default=DECODE.n_best,
                    help="Hypotheses per line, written INDEX<TAB>SCORE<TAB>TEXT.")
    tr.add_argument("--length-penalty", type=float, default=DECODE.length_penalty, help="GNMT alpha.")
    tr.add_argument("--batch-size", type=int, default=DECODE.max_sentences, help="Sentences per batch.")
    tr.add_argument("--no-split-sentences", action="store_true", help="Translate each line whole.")
    tr.add_argument("--no-keep-spans", action="store_true", help="Numbers, URLs and e-mail addresses are "
                    "translated like other words (default: they come out as they went in).")
    tr.add_argument("--glossary", help="TSV file, SOURCE<TAB>TARGET per line: a source term found in a "
                    "sentence is translated as its target term (as in `nmt translate`).")
    tr.add_argument("--glossary-ignore-case", action="store_true", help="Find glossary terms whatever "
                    "their case.")
    tr.add_argument("--glossary-mode", choices=GLOSSARY_MODES, default=DECODE.glossary_mode,
                    help="annotate, constrain, both, or auto (the model's); as in `nmt translate`.")
    tr.add_argument("--format", choices=CHOICES, default=AUTO, help="auto: by the input's extension "
                    "(text for standard input); text: line by line; html: the whole input is one HTML page, "
                    "translated with its markup kept; or a document kind, its formatting kept (as in "
                    "`nmt translate`).")
    tr.add_argument("--int8", action="store_true", help="Use the int8 graphs (exported with --int8).")
    tr.add_argument("--threads", type=int, default=0, help="CPU threads (0: ONNX Runtime's default).")
    tr.add_argument("--debug", action="store_true", help="Show tracebacks.")
    parser.translate = tr
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        return _translate(args)
    except NMTError as e:
        if args.debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 1


def _translate(args) -> int:
    from nmt.fileio import atomic_path, decode_lines, read_lines
    from nmt.formatting import scored_lines
    from nmt.lite.translator import Translator
    from nmt.text.glossary import Glossary
    beam = 1 if args.greedy else args.beam
    if args.n_best > beam or beam < 1 or args.batch_size < 1:
        raise NMTError(f"--n-best {args.n_best} needs a beam at least as wide, and --beam and --batch-size "
                       "at least 1")
    cfg = DecodeConfig(beam=beam, n_best=args.n_best, length_penalty=args.length_penalty,
                       max_sentences=args.batch_size, split_sentences=not args.no_split_sentences,
                       keep_spans=not args.no_keep_spans, glossary_mode=args.glossary_mode)
    glossary = Glossary.load(args.glossary, ignore_case=args.glossary_ignore_case) if args.glossary else None
    args.format = choose_format(args.format, args.input)
    if args.format != "text" and args.n_best > 1:
        raise NMTError(f"--format {args.format} writes the translated file only; --n-best works with "
                       "--format text")
    refuse_binary_as_text(args.input, args.format)
    translator = Translator.load(args.model, int8=args.int8, threads=args.threads)
    if args.format != "text":  # an HTML page or another document, whole
        translate_document_io(translator, args.input, args.output, args.format, glossary=glossary,
                              **dataclasses.asdict(cfg))
        return 0
    lines = decode_lines(sys.stdin.buffer, "standard input") if args.input == "-" else read_lines(args.input)

    def write(out) -> None:
        for index, nbest in enumerate(translator.translate_stream(lines, cfg, glossary=glossary)):
            text = scored_lines(index, nbest) if args.n_best > 1 else nbest[0][0] + "\n"
            out.write(text.encode("utf-8"))
        out.flush()

    if args.output == "-":
        write(sys.stdout.buffer)
    else:
        with atomic_path(args.output) as tmp, open(tmp, "wb") as out:
            write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
