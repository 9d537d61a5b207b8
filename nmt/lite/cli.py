"""`nmt-lite translate --model DIR`: translate with an exported model, without PyTorch.

One output line per input line, in order, as `nmt translate` writes them. Standard library argparse:
the lite install brings no command-line framework.
"""

from __future__ import annotations

import argparse
import logging
import sys

from nmt import NMTError
from nmt.config import DecodeConfig

D = DecodeConfig()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nmt-lite", description="Translate with a model exported by "
                                     "`nmt export`, on ONNX Runtime (no PyTorch).")
    commands = parser.add_subparsers(dest="command", required=True)
    tr = commands.add_parser("translate", help="Translate text: one output line per input line.")
    tr.add_argument("--model", required=True, help="The folder `nmt export` wrote.")
    tr.add_argument("--input", "-i", default="-", help="Text file, or - for standard input.")
    tr.add_argument("--output", "-o", default="-",
                    help="File (written atomically), or - for standard output.")
    tr.add_argument("--beam", type=int, default=D.beam, help="Beam size (default %(default)s).")
    tr.add_argument("--greedy", action="store_true", help="Greedy search (same as --beam 1).")
    tr.add_argument("--n-best", type=int, default=D.n_best,
                    help="Hypotheses per line, written INDEX<TAB>SCORE<TAB>TEXT.")
    tr.add_argument("--length-penalty", type=float, default=D.length_penalty, help="GNMT alpha.")
    tr.add_argument("--batch-size", type=int, default=D.max_sentences, help="Sentences per batch.")
    tr.add_argument("--no-split-sentences", action="store_true", help="Translate each line whole.")
    tr.add_argument("--int8", action="store_true", help="Use the int8 graphs (exported with --int8).")
    tr.add_argument("--threads", type=int, default=0, help="CPU threads (0: ONNX Runtime's default).")
    tr.add_argument("--debug", action="store_true", help="Show tracebacks.")
    args = parser.parse_args(argv)
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
    from nmt.lite.translator import Translator
    beam = 1 if args.greedy else args.beam
    if args.n_best > beam or beam < 1 or args.batch_size < 1:
        raise NMTError(f"--n-best {args.n_best} needs a beam at least as wide, and --beam and --batch-size "
                       "at least 1")
    cfg = DecodeConfig(beam=beam, n_best=args.n_best, length_penalty=args.length_penalty,
                       max_sentences=args.batch_size, split_sentences=not args.no_split_sentences)
    translator = Translator.load(args.model, int8=args.int8, threads=args.threads)
    lines = decode_lines(sys.stdin.buffer, "standard input") if args.input == "-" else read_lines(args.input)

    def write(out) -> None:
        for index, nbest in enumerate(translator.translate_stream(lines, cfg)):
            if args.n_best > 1:
                out.write("".join(f"{index}\t{h.score:.4f}\t{text}\n" for text, h in nbest).encode("utf-8"))
            else:
                out.write((nbest[0][0] + "\n").encode("utf-8"))
        out.flush()

    if args.output == "-":
        write(sys.stdout.buffer)
    else:
        with atomic_path(args.output) as tmp, open(tmp, "wb") as out:
            write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
