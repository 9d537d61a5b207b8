"""The fast decoding floor: optional speed layers that run a trained network for search.

Above the network (model.py, attention.py, softmax.py), which imports nothing from here. Each module
wraps or replaces a network module from above, called as the original is:

    packed.py     PackedLinear: weights laid out once for oneDNN's fp32/bf16 kernels
    int8.py       Int8Linear: int8 weights, each input row quantized on its own
    lstm.py       an LSTM layer's weights for a fused cell, the cell, and Int8Encoder (the encoder in int8)
    quantize.py   int8 copies of a model (Int8Encoder swapped in; a GRU's dynamic quantization)
    output.py     the output layer's rows for decoding: packed, int8, shortlisted (nmt/shortlist.py's lists)
    step.py       the Step interface, its implementations and the factory that picks one
    allocator.py  keeping freed memory for the next step's tensors
"""
