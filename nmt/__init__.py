"""nmt: a command-line neural machine translation toolkit for recurrent encoder-decoder models."""

__version__ = "0.1.0"


class NMTError(Exception):
    """A problem the user can fix; the CLI prints the message without a traceback and exits 1."""
