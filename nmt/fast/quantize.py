"""int8 models for CPU decoding, made as copies: the model handed in is never changed.

An LSTM model's encoder is swapped for Int8Encoder (lstm.py), which is called like the Encoder; its
decoder is run by step.LSTMStep on int8 weights and its output layer by output.Int8Output. Every
product's input is quantized per row (int8.py), so a translation does not depend on its batch. A GRU
model's recurrent and linear layers take torch's dynamic quantization instead (one activation scale per
call: its translations may change with the batch). Embeddings stay in float.
"""

from __future__ import annotations

import contextlib
import copy
import warnings

import torch
from torch import nn

from nmt.fast.lstm import Int8Encoder
from nmt.model import Seq2Seq


def fast_lstm(model: Seq2Seq) -> bool:
    """Whether the model's decoder is an nn.LSTM with biases in eval mode: what LSTMStep and Int8Encoder
    run (a GRU, or a model in training mode, runs on its own modules)."""
    rnn = model.decoder.rnn
    return type(rnn) is nn.LSTM and rnn.bias and not model.training


def quantize_int8(model: Seq2Seq) -> Seq2Seq:
    """A copy of `model` for int8 decoding (see the module's docstring); the output layer is quantized by
    the step that runs it (output.Int8Output)."""
    model = copy.deepcopy(model).eval()
    if fast_lstm(model):
        model.encoder = Int8Encoder(model.encoder)
        return model
    with quiet_quantization():
        for part in (model.encoder, model.decoder):
            torch.ao.quantization.quantize_dynamic(part, {nn.GRU, nn.Linear}, dtype=torch.qint8, inplace=True)
    return model


@contextlib.contextmanager
def quiet_quantization():
    """Silence torch.ao.quantization's notices that a successor library (torchao) exists: its dynamic
    int8 API, which nmt uses for GRU models, still works."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        yield
