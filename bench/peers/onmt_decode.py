"""Decode with OpenNMT-py 3.5.1 in-process, timing the decoding only (run in the peers environment).

    python onmt_decode.py MODEL SRC OUT_PREFIX REPEATS BEAM:BATCH [BEAM:BATCH ...]

For each BEAM:BATCH, REPEATS times: loads the model (not timed), decodes SRC (pieces, space-separated)
into OUT_PREFIX.BEAM.BATCH; then prints one JSON line: the fastest run's seconds, decoder steps, and rows
x steps (the rows the decoder multiplied, summed over steps), counted by wrapping the translator's step
function here, not by changing OpenNMT-py's files.
"""

from __future__ import annotations

import json
import sys
import time

from onmt.inference_engine import InferenceEnginePY
from onmt.opts import translate_opts
from onmt.utils.parse import ArgumentParser


def engine(model: str, src: str, out: str, beam: int, batch: int) -> InferenceEnginePY:
    parser = ArgumentParser()
    translate_opts(parser)
    # nmt's defaults where OpenNMT-py's differ: GNMT length penalty (alpha 1), 1.5 x source length
    opt = parser.parse_args(["-model", model, "-src", src, "-output", out, "-beam_size", str(beam),
                             "-batch_size", str(batch), "-batch_type", "sents", "-length_penalty", "wu",
                             "-alpha", "1.0", "-max_length_ratio", "1.5", "-log_file", "/dev/null"])
    ArgumentParser.validate_translate_opts(opt)
    ArgumentParser._get_all_transform_translate(opt)
    ArgumentParser._validate_transforms_opts(opt)
    ArgumentParser.validate_translate_opts_dynamic(opt)
    return InferenceEnginePY(opt)


def _counted(decode, counts: dict):
    def counted(decoder_in, *args, **kwargs):
        counts["steps"] += 1
        counts["rows"] += decoder_in.size(0)  # (rows, 1, 1)
        return decode(decoder_in, *args, **kwargs)
    return counted


def main(model: str, src: str, out_prefix: str, repeats: str, *runs: str) -> None:
    for run in runs:
        beam, batch = (int(x) for x in run.split(":"))
        times = []
        for _ in range(int(repeats)):
            eng = engine(model, src, f"{out_prefix}.{beam}.{batch}", beam, batch)
            counts = {"steps": 0, "rows": 0}
            eng.translator._decode_and_generate = _counted(eng.translator._decode_and_generate, counts)
            start = time.perf_counter()
            eng.infer_file()
            times.append(time.perf_counter() - start)
            eng.translator.out_file.close()
        print(json.dumps({"beam": beam, "batch": batch, "seconds": min(times), **counts}), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
