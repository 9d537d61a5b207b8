"""`nmt export`: a trained model as ONNX graphs that translate without PyTorch (nmt/lite/ runs them).

The folder it writes:

    encoder.onnx     src (batch, src_len) int64, padded, reversed as the model reads it; src_lens (batch,)
                     -> h, c (layers, batch, hidden) the decoder's first state (c for an LSTM only);
                     and memory (batch, src_len, hidden), the encoder's outputs; with attention also
                     keys (batch, src_len, hidden) and mask (batch, src_len)
    decoder.onnx     one step: tokens (rows,), h, c, and with attention memory, keys, mask (per source:
                     `sources` of them, rows = sources * per, row r reads source r // per as in
                     regroup.py), feed (rows, hidden) the last attentional state (zeros at first)
                     -> log_probs (rows, vocab), h_out, c_out, feed_out, and with attention its weights
                     (rows, src_len) over the source as the encoder read it. (Exports before this
                     version took `source` (rows,), the source of each row, and gathered memory per row.)
    src.model, tgt.model   the sentencepiece models
    nmt-export.json  what the decoder needs: special ids, sizes, reversal, attention, languages, version,
                     and whether the model learnt placeholders and term annotations (sources.py)
    *.int8.onnx      with --int8: the same graphs with int8 products, activations quantized per row
                     (export_graphs.py), so a translation does not depend on its batch

Batch and lengths are dynamic axes. The export is checked before it is kept: on a sample batch the
graphs, run by ONNX Runtime, must give the torch model's log-probabilities within TOLERANCE at every
step of a teacher-forced pass, or the export fails naming the difference.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from nmt import NMTError, __version__, checkpoint
from nmt.attention import AttentionState
from nmt.corpora import languages_of
from nmt.data import pad_sources
from nmt.model import Seq2Seq, join_directions
from nmt.text.tokenizer import BOS, EOS, PAD, UNK

TOLERANCE = 1e-4  # largest difference allowed between ONNX Runtime's and torch's log-probabilities
OPSET = 17
META = "nmt-export.json"
TOP = ["top_values", "top_ids"]  # the decoder graph's k best per row (_add_top)


class _Encoder(nn.Module):
    """Encoder.forward's arithmetic for a padded batch, packed by length (the exporter turns packing into
    the LSTM's sequence lengths), with what the decoder's first state needs."""

    def __init__(self, model: Seq2Seq):
        super().__init__()
        self.model = model

    def forward(self, src: torch.Tensor, src_lens: torch.Tensor):
        encoder, attention = self.model.encoder, self.model.decoder.attention
        x = encoder.embed(src)                                                   # (batch, src_len, emb)
        packed = pack_padded_sequence(x, src_lens, batch_first=True, enforce_sorted=False)
        out, state = encoder.rnn(packed)
        if encoder.bidirectional:
            state = join_directions(state)
        state = state if isinstance(state, tuple) else (state,)
        # the outputs too without attention (unused then): the exporter fails on a packed output left unread
        memory, _ = pad_packed_sequence(out, batch_first=True, total_length=src.size(1))
        if attention is None:
            return (*state, memory)
        return (*state, memory, attention.keys(memory), src != PAD)


class _Step(nn.Module):
    """One decoder step (Seq2Seq.step) with its state as plain tensors."""

    def __init__(self, model: Seq2Seq):
        super().__init__()
        self.model, self.lstm = model, model.cfg.cell == "lstm"

    def forward(self, tokens, h, *rest):
        c, rest = (rest[0], rest[1:]) if self.lstm else (None, rest)
        rnn = (h, c) if self.lstm else h
        if self.model.decoder.attention is None:
            log_probs, state = self.model.step(tokens, rnn)
            return (log_probs, *(state if self.lstm else (state,)))
        memory, keys, mask, *feed = rest  # feed: the last attentional state, with input feeding
        # no row reads a copy of its source: rows = sources * per, each source's rows together (its beam)
        state = AttentionState(rnn, memory, keys, mask, feed[0] if feed else None)
        hidden, weights, state = self.model.decoder.attend_step(tokens, state)
        new = state.rnn if self.lstm else (state.rnn,)
        return (self.model.output.log_probs(hidden), *new, *([state.feed] if feed else []), weights)


def names(model: Seq2Seq) -> dict[str, list[str]]:
    """The graphs' input and output names, by the model's kind."""
    state = ["h", "c"] if model.cfg.cell == "lstm" else ["h"]
    attends = model.decoder.attention is not None
    memory = ["memory", "keys", "mask"] if attends else []
    feed = ["feed"] if attends and model.cfg.input_feeding else []
    return {"encoder_in": ["src", "src_lens"], "encoder_out": state + (memory or ["memory"]),
            "decoder_in": ["tokens", *state, *memory, *feed, "k"],
            "decoder_out": ["log_probs", *(f"{s}_out" for s in [*state, *feed]),
                            *(["attention"] if attends else []), *TOP]}


def _add_top(path: Path) -> None:
    """The decoder graph with each row's k best log-probabilities and their ids (TopK: best first, equal
    values by the lower id, as nmt/lite/search.top ranks them) as outputs TOP, k an input (1,): search
    reads the few it needs instead of ranking 8,000 in NumPy (12% of nmt-lite's beam search, py-spy)."""
    import onnx
    from onnx import TensorProto, helper
    model = onnx.load(str(path))
    graph = model.graph
    graph.input.append(helper.make_tensor_value_info("k", TensorProto.INT64, [1]))
    graph.node.append(helper.make_node("TopK", ["log_probs", "k"], TOP, name="top", axis=-1, largest=1,
                                       sorted=1))
    graph.output.extend([helper.make_tensor_value_info(TOP[0], TensorProto.FLOAT, ["rows", "k"]),
                         helper.make_tensor_value_info(TOP[1], TensorProto.INT64, ["rows", "k"])])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def export(path: str | Path, out: str | Path, *, int8: bool = False) -> dict:
    """Export the model at `path` (a run folder or checkpoint) into the folder `out`, checked; returns
    the metadata written."""
    import onnxruntime  # noqa: F401  (the check runs the graphs; refuse early without it)
    model, src_tok, tgt_tok, cfg = checkpoint.build(checkpoint.load(path))
    n = names(model)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=out.parent))  # beside it: renamed into place
    try:
        sample = ["ein hund läuft im park", "zwei", "eine frau sitzt auf einer bank und liest ein buch"]
        src, src_lens = pad_sources([ids or [UNK] for ids in src_tok.encode(sample)],
                                    model.cfg.reverse_source)
        with torch.no_grad():
            first = _Encoder(model)(src, src_lens)
        axes_state = {name: {1: "batch"} for name in n["encoder_out"][:2] if name in ("h", "c")}
        axes_memory = {"memory": {0: "batch", 1: "src_len"}, "keys": {0: "batch", 1: "src_len"},
                       "mask": {0: "batch", 1: "src_len"}}
        _onnx(_Encoder(model), (src, src_lens), work / "encoder.onnx", n["encoder_in"], n["encoder_out"],
              {"src": {0: "batch", 1: "src_len"}, "src_lens": {0: "batch"}, **axes_state,
               **{k: v for k, v in axes_memory.items() if k in n["encoder_out"]}})
        rows = src.size(0)
        step_inputs = _step_inputs(model, first, torch.full((rows,), BOS), rows)
        step_axes = {"tokens": {0: "rows"}, "log_probs": {0: "rows"},
                     "attention": {0: "rows", 1: "src_len"},
                     "feed": {0: "rows"}, "feed_out": {0: "rows"},
                     **{s: {1: "rows"} for s in ("h", "c", "h_out", "c_out")},
                     **{k: {0: "sources", 1: "src_len"} for k in ("memory", "keys", "mask")}}
        traced_in = [name for name in n["decoder_in"] if name != "k"]  # k and TOP: _add_top's
        traced_out = [name for name in n["decoder_out"] if name not in TOP]
        _onnx(_Step(model), step_inputs, work / "decoder.onnx", traced_in, traced_out,
              {k: v for k, v in step_axes.items() if k in n["decoder_in"] or k in n["decoder_out"]})
        _add_top(work / "decoder.onnx")
        meta = {"format": "nmt-onnx", "version": 1, "nmt_version": __version__, "opset": OPSET,
                "pad": PAD, "unk": UNK, "bos": BOS, "eos": EOS, "reverse_source": model.cfg.reverse_source,
                "max_len": model.cfg.max_len, "cell": model.cfg.cell, "layers": model.cfg.layers,
                "hidden": model.cfg.hidden, "attention": model.decoder.attention is not None,
                "vocab": [len(src_tok), len(tgt_tok)], "languages": languages_of(cfg), "names": n,
                "from": str(path), "int8": int8,
                "placeholders": cfg.data.placeholders, "annotates": cfg.data.term_share > 0}
        (work / "src.model").write_bytes(src_tok.proto)
        (work / "tgt.model").write_bytes(tgt_tok.proto)
        meta["max_difference"] = check(model, work, n, src, src_lens, tgt_tok)
        if int8:
            import onnx

            from nmt.export_graphs import quantize
            for part in ("encoder", "decoder"):
                graph = quantize(onnx.load(str(work / f"{part}.onnx")), single_step=part == "decoder")
                onnx.save(graph, str(work / f"{part}.int8.onnx"))
            meta["int8"] = "rows"  # activations quantized per row (export_graphs.py): batch-invariant
        (work / META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        work.replace(out)
    finally:
        if work.exists():
            shutil.rmtree(work)
    return meta


@contextlib.contextmanager
def _quiet():
    """Standard error silenced (file descriptor 2: the exporter's C++ notes on packed sequences, ONNX
    Runtime's quantizer's advice): the check after the export is what tells whether it worked."""
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        sys.stderr.flush()
        os.dup2(devnull, 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _onnx(module: nn.Module, inputs: tuple, path: Path, input_names: list[str], output_names: list[str],
          axes: dict) -> None:
    with _quiet(), torch.no_grad():
        torch.onnx.export(module.eval(), inputs, str(path), dynamo=False, opset_version=OPSET,
                          input_names=input_names, output_names=output_names, dynamic_axes=axes)


def _step_inputs(model: Seq2Seq, first: tuple, tokens: torch.Tensor, rows: int) -> tuple:
    """The decoder graph's inputs for the first step from the encoder's outputs."""
    lstm = model.cfg.cell == "lstm"
    state = first[:2] if lstm else first[:1]
    if model.decoder.attention is None:
        return (tokens, *state)
    memory, keys, mask = first[len(state):]  # with attention
    feed = (torch.zeros(rows, model.cfg.hidden),) if model.cfg.input_feeding else ()
    return (tokens, *state, memory, keys, mask, *feed)


def check(model: Seq2Seq, folder: Path, n: dict, src: torch.Tensor, src_lens: torch.Tensor, tgt_tok) -> float:
    """The largest difference between ONNX Runtime's and torch's log-probabilities over a teacher-forced
    pass of a sample; NMTError beyond TOLERANCE."""
    import numpy as np
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.log_severity_level = 3
    encoder = ort.InferenceSession(str(folder / "encoder.onnx"), options)
    decoder = ort.InferenceSession(str(folder / "decoder.onnx"), options)
    got = encoder.run(None, {"src": src.numpy(), "src_lens": src_lens.numpy()})
    targets = [BOS, *tgt_tok.encode(["a dog runs in the park ."])[0]]
    with torch.no_grad():
        state = model.encode(src, src_lens)
    worst = 0.0
    feeds = dict(zip(n["encoder_out"], got, strict=True))
    rows = src.size(0)
    attends = "attention" in n["decoder_out"]
    if attends:  # two rows per source, as a beam has several: the graph must read its source for each
        state = state.reorder(torch.arange(rows).repeat_interleave(2))
        for name in ("h", "c"):
            if name in feeds:
                feeds[name] = np.repeat(feeds[name], 2, axis=1)
        rows *= 2
        feeds.update(feed=np.zeros((rows, model.cfg.hidden), np.float32))
    feeds = {k: v for k, v in feeds.items() if k in n["decoder_in"] or k in n["encoder_out"]}
    feeds["k"] = np.array([3], np.int64)
    for token in targets:
        tokens = torch.full((rows,), token)
        with torch.no_grad():
            if attends:  # the weights too, which place HTML's inline elements
                hidden, weights, state = model.decoder.attend_step(tokens, state)
                want = model.output.log_probs(hidden)
            else:
                want, state = model.step(tokens, state)
        feeds["tokens"] = tokens.numpy()
        outputs = decoder.run(None, {k: feeds[k] for k in n["decoder_in"]})
        named = dict(zip(n["decoder_out"], outputs, strict=True))
        finite = np.isfinite(want.numpy())
        if not (finite == np.isfinite(outputs[0])).all():
            raise NMTError("export check failed: ONNX Runtime and torch disagree on which pieces are "
                           "impossible")
        worst = max(worst, float(np.abs(outputs[0][finite] - want.numpy()[finite]).max()))
        if attends:
            worst = max(worst, float(np.abs(named["attention"] - weights.numpy()).max()))
        ranked = np.argsort(-outputs[0], axis=-1, kind="stable")[:, :3]  # equal values: the lower id first
        if not (named["top_ids"] == ranked).all():
            raise NMTError("export check failed: the decoder graph's best pieces are not its best "
                           "log-probabilities")
        feeds.update({name.removesuffix("_out"): value
                      for name, value in zip(n["decoder_out"][1:], outputs[1:], strict=True)
                      if name.endswith("_out")})
    if worst > TOLERANCE:
        raise NMTError(f"export check failed: ONNX Runtime's log-probabilities differ from torch's by "
                       f"{worst:.2e} (at most {TOLERANCE:g} allowed); the export was not written")
    return worst
