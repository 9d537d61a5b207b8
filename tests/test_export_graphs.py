"""Per-row int8 graphs (nmt.export_graphs.py): the docstring's worked example, a one-step LSTM taken apart
against ONNX Runtime's own LSTM, and a row's log-probabilities the same whatever it is batched with."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="exporting needs onnx (the full extra)")
ort = pytest.importorskip("onnxruntime", reason="exporting needs onnxruntime (the full extra)")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from nmt.export_graphs import quantize  # noqa: E402


def _model(nodes, inputs, outputs, weights):
    tensors = [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in weights.items()]
    graph = helper.make_graph(nodes, "g", inputs, outputs, tensors)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model, **feeds):
    return ort.InferenceSession(model.SerializeToString()).run(None, feeds)


def test_the_worked_example():
    # X = [0.5, -1.0] times W = [[0.2], [0.1]]: Wq = [127, 64], q = [64, -127], int32 sum 0: exactly 0
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["rows", 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["rows", 1])
    model = _model([helper.make_node("MatMul", ["x", "W"], ["y"])], [x], [y], {"W": [[0.2], [0.1]]})
    int8 = quantize(model, single_step=False)
    weights = {i.name: numpy_helper.to_array(i) for i in int8.graph.initializer}
    assert [w.ravel().tolist() for w in weights.values() if w.dtype == np.int8] == [[127, 64]]
    assert "W" not in weights  # the float weight is gone
    (out,) = _run(int8, x=np.array([[0.5, -1.0]], np.float32))
    assert out.tolist() == [[0.0]]


def _lstm_step(hidden=8, inputs=5, seed=0):
    rng = np.random.default_rng(seed)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, "rows", inputs])
    h = helper.make_tensor_value_info("h", TensorProto.FLOAT, [1, "rows", hidden])
    c = helper.make_tensor_value_info("c", TensorProto.FLOAT, [1, "rows", hidden])
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n, shape in
            (("y", [1, 1, "rows", hidden]), ("h_out", [1, "rows", hidden]), ("c_out", [1, "rows", hidden]))]
    node = helper.make_node("LSTM", ["x", "W", "R", "B", "", "h", "c"], ["y", "h_out", "c_out"],
                            hidden_size=hidden)
    weights = {"W": rng.normal(0, 0.5, (1, 4 * hidden, inputs)),
               "R": rng.normal(0, 0.5, (1, 4 * hidden, hidden)),
               "B": rng.normal(0, 0.5, (1, 8 * hidden))}
    return _model([node], [x, h, c], outs, weights), rng


def test_a_one_step_lstm_taken_apart_computes_what_the_lstm_computes():
    model, rng = _lstm_step()
    feeds = {"x": rng.normal(0, 1, (1, 6, 5)).astype(np.float32),
             "h": rng.uniform(-1, 1, (1, 6, 8)).astype(np.float32),
             "c": rng.normal(0, 1, (1, 6, 8)).astype(np.float32)}
    want = _run(model, **feeds)
    int8 = quantize(model, single_step=True)
    assert "LSTM" not in {n.op_type for n in int8.graph.node}
    got = _run(int8, **feeds)
    for w, g in zip(want, got, strict=True):
        assert w.shape == g.shape
        assert np.abs(w - g).max() < 0.05  # int8 rounding only: a wrong gate order is off by ~1


def test_a_row_comes_out_the_same_whatever_its_batch():
    model, rng = _lstm_step()
    int8 = quantize(model, single_step=True)
    rows = {"x": rng.normal(0, 1, (1, 64, 5)), "h": rng.uniform(-1, 1, (1, 64, 8)),
            "c": rng.normal(0, 1, (1, 64, 8))}
    rows = {k: v.astype(np.float32) for k, v in rows.items()}
    rows["x"][:, 1:] *= 40  # other rows far larger: one scale for the batch would crush row 0
    whole = _run(int8, **rows)
    alone = _run(int8, **{k: v[:, :1] for k, v in rows.items()})
    for w, a in zip(whole, alone, strict=True):
        assert np.array_equal(w[..., :1, :], a)
