"""nmt: a command-line neural machine translation toolkit for recurrent encoder-decoder models."""

import os

__version__ = "0.1.0"

# Read by oneDNN once, at first use: a kernel cached per batch shape grew training past 3.5 GB.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "32")


class NMTError(Exception):
    """A problem the user can fix; the CLI prints the message without a traceback and exits 1."""


def __getattr__(name: str):
    # `from nmt import Translator` without importing torch for every `import nmt` (the CLI's start-up)
    if name == "Translator":
        from nmt.translate import Translator
        return Translator
    if name == "Translation":
        from nmt.text.lines import Translation
        return Translation
    raise AttributeError(f"module 'nmt' has no attribute {name!r}")
