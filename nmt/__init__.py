"""nmt: a command-line neural machine translation toolkit for recurrent encoder-decoder models."""

import os

__version__ = "0.1.0"

# oneDNN caches a compiled kernel per tensor shape. Training batches come in hundreds of shapes, so
# the default cache (1,024 entries) grew a 2x512 run past 3.5 GB in 15 minutes; 32 entries keep it
# near 1.2 GB at a few per cent of speed. Set the variable yourself to choose otherwise.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "32")


class NMTError(Exception):
    """A problem the user can fix; the CLI prints the message without a traceback and exits 1."""
