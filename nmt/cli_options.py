"""The decoding options that `nmt translate`, `nmt evaluate` and `nmt serve` share, declared once.

`@decoding_options()` adds them to a command: Typer sees each as one of the command's own options, with
its default from DecodeConfig or RuntimeConfig (config.py), and the command receives the two configs
built from them as its `decode` and `runtime` arguments:

    @decoding_options(n_best=True)
    def translate(model: ..., decode: DecodeConfig, runtime: RuntimeConfig): ...
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import typer

from nmt import NMTError
from nmt.config import GLOSSARY_MODE, DecodeConfig, RuntimeConfig

DECODE, RUNTIME_DEFAULTS = DecodeConfig(), RuntimeConfig()  # where every default comes from


@dataclass(frozen=True)
class Option:
    """One shared option: its parameter name, type, default and Typer declaration."""
    name: str
    kind: Any
    default: Any
    declaration: typer.models.OptionInfo


def _option(name: str, kind: Any, default: Any, *flags: str, **info) -> Option:
    return Option(name, kind, default, typer.Option(default, *flags, **info))


SEARCH = [
    _option("beam", int, DECODE.beam, "--beam", min=1, help="Beam size."),
    _option("greedy", bool, False, "--greedy", help="Greedy search (same as --beam 1)."),
    _option("n_best", int, DECODE.n_best, "--n-best", min=1,
            help="Print K hypotheses per line (see --scores)."),
    _option("length_penalty", float, DECODE.length_penalty, "--length-penalty", min=0,
            help="GNMT alpha (0: none)."),
    _option("max_len_ratio", float, DECODE.max_len_ratio, "--max-len-ratio", min=0,
            help=f"Hypotheses stop at ratio * source length + {DECODE.max_len_extra}."),
    _option("max_tokens", int, DECODE.max_tokens, "--max-tokens", min=1, help="Source tokens per batch."),
    _option("batch_size", int, DECODE.max_sentences, "--batch-size", min=1, help="Sentences per batch."),
    _option("exhaustive", bool, not DECODE.stop_early, "--exhaustive",
            help="Beam: continue a sentence until `beam` hypotheses have ended (default: stop once its best "
                 "candidate has ended)."),
    _option("split_sentences", bool, DECODE.split_sentences, "--split-sentences/--no-split-sentences",
            help="Translate each sentence of a line on its own and join them again, spacing kept "
                 "(default: on)."),
    _option("keep_spans", bool, DECODE.keep_spans, "--keep-spans/--no-keep-spans",
            help="Numbers, times, dates in digits, URLs and e-mail addresses come out exactly as they went "
                 "in (placeholders the model carries, for a model trained with them; else constraints on the "
                 "translation; default: on)."),
    _option("glossary_mode", str, DECODE.glossary_mode, "--glossary-mode",
            help="How glossary terms are used: annotate (the source term is followed by its target term; a "
                 "model trained with term annotations writes it), constrain (the target term is a constraint "
                 f"of the search), both, or auto: {GLOSSARY_MODE} for a model trained with annotations, else "
                 "constrain."),
    _option("no_repeat_ngram", int, DECODE.no_repeat_ngram, "--no-repeat-ngram", min=0,
            help="N > 0: no N consecutive words twice in a translation (against looping output); 0: no such "
                 "rule."),
]
RUNTIME = [
    _option("device", str | None, RUNTIME_DEFAULTS.device, "--device",
            help="cpu or cuda (default: cuda when present; cpu with --quantize)."),
    _option("threads", int, RUNTIME_DEFAULTS.threads, "--threads", min=0,
            help="CPU threads (0: torch's default)."),
    _option("quantize", str | None, RUNTIME_DEFAULTS.quantize, "--quantize",
            help="int8: int8 weights for faster CPU decoding (slightly different output; see "
                 "docs/guide/translating.md)."),
    _option("dtype", str, RUNTIME_DEFAULTS.dtype, "--dtype",
            help="fp32, bf16 (bf16 matrix products, fp32 softmax and scores) or auto (bf16 where the CPU or "
                 "GPU has bf16 instructions)."),
    _option("shortlist", bool, RUNTIME_DEFAULTS.shortlist, "--shortlist",
            help="Score only the target pieces the run's shortlist.bin lists for each sentence (see "
                 "`nmt shortlist`)."),
]


def decode_config(values: dict) -> DecodeConfig:
    """The DecodeConfig of the SEARCH options' values (n_best 1 when the command has no --n-best)."""
    beam = 1 if values["greedy"] else values["beam"]
    n_best = values.get("n_best", DECODE.n_best)
    if n_best > beam:
        raise NMTError(f"--n-best {n_best} needs a beam at least as wide (--beam {n_best})")
    return DecodeConfig(beam=beam, n_best=n_best, length_penalty=values["length_penalty"],
                        max_len_ratio=values["max_len_ratio"], max_tokens=values["max_tokens"],
                        max_sentences=values["batch_size"], stop_early=not values["exhaustive"],
                        split_sentences=values["split_sentences"], keep_spans=values["keep_spans"],
                        no_repeat_ngram=values["no_repeat_ngram"], glossary_mode=values["glossary_mode"])


def decoding_options(*, n_best: bool = False) -> Callable:
    """Add SEARCH and RUNTIME to a Typer command (--n-best only with `n_best`); the command gets them as
    `decode: DecodeConfig` and `runtime: RuntimeConfig`."""
    options = [o for o in SEARCH + RUNTIME if n_best or o.name != "n_best"]

    def wrap(command: Callable) -> Callable:
        own = [p for p in inspect.signature(command, eval_str=True).parameters.values()
               if p.name not in ("decode", "runtime")]
        shared = [inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, default=o.declaration,
                                    annotation=o.kind) for o in options]

        @functools.wraps(command)
        def run(**values):
            mine = {o.name: values.pop(o.name) for o in options}
            runtime = RuntimeConfig(**{o.name: mine[o.name] for o in RUNTIME})
            return command(**values, decode=decode_config(mine), runtime=runtime)

        run.__signature__ = inspect.Signature([*own, *shared])
        run.__annotations__ = {p.name: p.annotation for p in [*own, *shared]}
        return run
    return wrap
