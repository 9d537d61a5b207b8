"""`python -m bench.children.peak FILE COMMAND...`: run COMMAND, then write its peak RSS (KiB) to FILE.

A child's peak RSS counts the memory image it was forked from, so a benchmark that has loaded a model
would inflate it: the command is started from this small launcher process instead. A SIGTERM sent to
the launcher's process group (bench peers train ends OpenNMT-py that way) ends the command; the launcher
itself lives on to write the peak (a handler, unlike SIG_IGN, is not inherited by the command)."""

import resource
import signal
import subprocess
import sys

if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: None)
    rc = subprocess.call(sys.argv[2:])
    with open(sys.argv[1], "w") as f:
        f.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
    sys.exit(rc)
