"""int8 ONNX graphs whose translations do not depend on the batch (`quantize`).

Weights in int8 with a scale per output column, activations quantized per row, as the torch int8
path does (fast/int8.py). ONNX Runtime's dynamic quantization takes one activation scale for a whole
input, so a sentence's translation changed with what it was batched with (lite int8 greedy: 39.52 BLEU at
batch 64, 39.33 at 128, on one model). Here every product X·W with a weight W from the graph becomes

    s = max(|X|, last axis) / 127              one scale per row (a row of zeros: 1)
    q = round(X / s) + 128                     uint8, |round(X / s)| <= 127, ties to even
    Y = MatMulInteger(q, Wq, 128) · s · w      Wq = round(W / w), w = max(|W|, over K) / 127 per column

and integer products sum exactly in int32, so each row's result is what it would be alone, on any
machine that rounds as IEEE does (ONNX Runtime on x86, in WebAssembly). Worked example, one row
X = [0.5, -1.0] times W = [[0.2], [0.1]]: w = 0.2 / 127, Wq = [127, 64] (round(63.5) = 64, ties to
even); s = 1 / 127, q - 128 = [64, -127] (round(63.5) = 64); the int32 sum 64·127 - 127·64 = 0, so Y = 0
(exact: 0.5·0.2 - 1.0·0.1 = 0). tests/test_export_graphs.py replays it.

What is rewritten:
- MatMul(X, W) and Gemm(X, W, bias) (alpha = beta = 1, transA = 0) with W an initializer: as above;
- Gather(E, ids) of an initializer table (embeddings): E stored in int8 with a scale per row, the rows
  gathered and then scaled back (with tied embeddings the output layer's copy is transposed: one int8
  table for each use);
- a single-step LSTM (the decoder graph's, one time step): taken apart into its two products, gates and
  state update (ONNX's i, o, f, c order), so that its products are per-row int8 too.
The encoder's LSTM, which runs over whole sequences, keeps float weights (its time loop stays ONNX
Runtime's); it reads each sentence on its own rows, so it does not mix a batch either.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from nmt import NMTError


class _Graph:
    """The graph being rewritten: new nodes and initializers under fresh names."""

    def __init__(self, graph: onnx.GraphProto):
        self.graph = graph
        self.weights = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        self.added: list[onnx.TensorProto] = []
        self.cache: dict[tuple, str] = {}
        self.count = 0

    def name(self, stem: str) -> str:
        self.count += 1
        return f"int8/{stem}_{self.count}"

    def constant(self, array: np.ndarray, stem: str) -> str:
        name = self.name(stem)
        self.added.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, nodes: list, op: str, inputs: list[str], stem: str, **attrs) -> str:
        out = self.name(stem)
        nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def columns(self, weight: np.ndarray, key: str) -> tuple[str, str]:
        """W (K, N) as int8 with a scale per column: the names of Wq and of w (N,), made once per key."""
        if key not in self.cache:
            w = np.abs(weight).max(axis=0) / 127
            w[w == 0] = 1
            wq = np.clip(np.round(weight / w), -127, 127).astype(np.int8)
            self.cache[key] = (self.constant(wq, "wq"), self.constant(w.astype(np.float32), "w"))
        return self.cache[key]

    def product(self, nodes: list, x: str, weight: np.ndarray, key: str, bias: str | None = None) -> str:
        """x (..., K) · W (K, N) [+ bias] with x quantized per row."""
        wq, w = self.columns(weight, key)
        one, zero_point = self.shared()
        s = self.node(nodes, "ReduceMax", [self.node(nodes, "Abs", [x], "abs")], "max", axes=[-1], keepdims=1)
        s = self.node(nodes, "Div", [self.node(nodes, "Max", [s, one["tiny"]], "nonzero"), one["127"]], "s")
        q = self.node(nodes, "Round", [self.node(nodes, "Div", [x, s], "scaled")], "round")
        q = self.node(nodes, "Cast", [self.node(nodes, "Add", [q, one["128"]], "shift")], "q",
                      to=TensorProto.UINT8)
        # ONNX Runtime's fused MatMulIntegerToFloat: the int32 sums times the column scales, as floats
        y = self.node(nodes, "MatMulIntegerToFloat", [q, wq, one["1"], w, zero_point], "cols",
                      domain="com.microsoft")
        y = self.node(nodes, "Mul", [y, s], "rows")
        return self.node(nodes, "Add", [y, bias], "bias") if bias else y

    def shared(self) -> tuple[dict[str, str], str]:
        if "shared" not in self.cache:
            floats = {k: self.constant(np.float32(v), k) for k, v in
                      (("tiny", 1e-30), ("1", 1.0), ("127", 127.0), ("128", 128.0))}
            self.cache["shared"] = (floats, self.constant(np.uint8(128), "zero_point"))
        return self.cache["shared"]


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _matmul(g: _Graph, node: onnx.NodeProto) -> list | None:
    x, weight = node.input[0], g.weights.get(node.input[1])
    if weight is None or weight.ndim != 2:
        return None
    nodes: list = []
    y = g.product(nodes, x, weight, node.input[1])
    nodes.append(helper.make_node("Identity", [y], [node.output[0]], name=node.name))
    return nodes


def _gemm(g: _Graph, node: onnx.NodeProto) -> list | None:
    a, weight = _attrs(node), g.weights.get(node.input[1])
    if weight is None or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0 or a.get("transA", 0):
        return None
    transposed = bool(a.get("transB", 0))
    nodes: list = []
    bias = node.input[2] if len(node.input) > 2 else None
    y = g.product(nodes, node.input[0], weight.T if transposed else weight,
                  node.input[1] + (".T" if transposed else ""), bias)
    nodes.append(helper.make_node("Identity", [y], [node.output[0]], name=node.name))
    return nodes


def _gather(g: _Graph, node: onnx.NodeProto) -> list | None:
    table = g.weights.get(node.input[0])
    if table is None or table.ndim != 2 or _attrs(node).get("axis", 0) != 0 or table.dtype != np.float32:
        return None
    key = node.input[0] + ".rows"
    if key not in g.cache:  # one scale per row of the table
        s = np.abs(table).max(axis=1) / 127
        s[s == 0] = 1
        tq = np.clip(np.round(table / s[:, None]), -127, 127).astype(np.int8)
        g.cache[key] = (g.constant(tq, "table"), g.constant(s.astype(np.float32), "table_s"))
    wq, w = g.cache[key]
    nodes: list = []
    rows = g.node(nodes, "Cast", [g.node(nodes, "Gather", [wq, node.input[1]], "rows")], "rows_f",
                  to=TensorProto.FLOAT)
    scales = g.node(nodes, "Unsqueeze", [g.node(nodes, "Gather", [w, node.input[1]], "row_s"),
                                         g.constant(np.array([-1], np.int64), "axis")], "row_s1")
    nodes.append(helper.make_node("Mul", [rows, scales], [node.output[0]], name=node.name))
    return nodes


def _lstm_step(g: _Graph, node: onnx.NodeProto) -> list | None:
    """A one-step, one-direction LSTM taken apart: its per-row int8 products, its gates and state update."""
    a = _attrs(node)
    inputs = list(node.input) + [""] * (8 - len(node.input))
    x, w_name, r_name, b_name, seq_lens, h0, c0, peep = inputs
    plain = (a.get("direction", b"forward") in (b"forward", "forward") and not a.get("clip")
             and not a.get("input_forget") and not a.get("layout") and "activations" not in a)
    if not plain or seq_lens or peep or not (h0 and c0) or w_name not in g.weights or r_name not in g.weights:
        return None
    hidden = a["hidden_size"]
    w, r = g.weights[w_name][0], g.weights[r_name][0]                  # (4H, I), (4H, H)
    bias = g.weights[b_name][0] if b_name else np.zeros(8 * hidden, np.float32)
    bias = (bias[: 4 * hidden] + bias[4 * hidden:]).astype(np.float32)
    nodes: list = []
    zero = g.constant(np.array([0], np.int64), "axis0")
    hs = g.node(nodes, "Squeeze", [h0, zero], "h0")
    cs = g.node(nodes, "Squeeze", [c0, zero], "c0")
    xs = g.node(nodes, "Squeeze", [x, zero], "x")                       # (B, I): one time step
    gates = g.node(nodes, "Add", [g.product(nodes, xs, w.T, w_name), g.product(nodes, hs, r.T, r_name)],
                   "gates")
    gates = g.node(nodes, "Add", [gates, g.constant(bias, "lstm_b")], "gates_b")
    parts = [g.name(k) for k in "iofc"]
    nodes.append(helper.make_node("Split", [gates, g.constant(np.array([hidden] * 4, np.int64), "split")],
                                  parts, name=g.name("split"), axis=1))
    i, o, f = (g.node(nodes, "Sigmoid", [p], "sig") for p in parts[:3])
    cand = g.node(nodes, "Tanh", [parts[3]], "cand")
    c = g.node(nodes, "Add", [g.node(nodes, "Mul", [f, cs], "fc"), g.node(nodes, "Mul", [i, cand], "ic")],
               "c")
    h = g.node(nodes, "Mul", [o, g.node(nodes, "Tanh", [c], "tanh_c")], "h")
    outputs = list(node.output) + [""] * (3 - len(node.output))
    if outputs[0]:
        nodes.append(helper.make_node("Unsqueeze", [h, g.constant(np.array([0, 1], np.int64), "axes")],
                                      [outputs[0]], name=g.name("y")))
    for value, out in ((h, outputs[1]), (c, outputs[2])):
        if out:
            nodes.append(helper.make_node("Unsqueeze", [value, zero], [out], name=g.name("state")))
    return nodes


REWRITE = {"MatMul": _matmul, "Gemm": _gemm, "Gather": _gather}


def quantize(model: onnx.ModelProto, *, single_step: bool) -> onnx.ModelProto:
    """A copy of `model` with per-row int8 products (the module docstring); single_step: the graph's
    LSTMs run one time step (the decoder's), and are taken apart too."""
    rewrite = {**REWRITE, **({"LSTM": _lstm_step} if single_step else {})}
    return _rewritten(model, rewrite)


def _rewritten(model: onnx.ModelProto, rewrite: dict) -> onnx.ModelProto:
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = _Graph(out.graph)
    nodes, used, rewritten = [], set(), 0
    for node in out.graph.node:
        new = rewrite[node.op_type](g, node) if node.op_type in rewrite else None
        nodes += new if new is not None else [node]
        rewritten += new is not None
    wanted = {o.name for o in out.graph.output}
    live = []
    for node in reversed(nodes):  # what no output needs any more (a rewritten node's inputs) goes
        if any(o in wanted for o in node.output):
            live.append(node)
            wanted.update(node.input)
    nodes = live[::-1]
    for node in nodes:
        used.update(node.input)
    kept = [i for i in out.graph.initializer if i.name in used]
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    del out.graph.initializer[:]
    out.graph.initializer.extend(kept + [t for t in g.added if t.name in used])
    if not rewritten:
        raise NMTError("int8 export: nothing in the graph could be quantized")
    if not any(o.domain == "com.microsoft" for o in out.opset_import):
        out.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.checker.check_model(out)
    return out
