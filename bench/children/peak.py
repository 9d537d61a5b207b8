"""`python -m bench.children.peak FILE COMMAND...`: run COMMAND, then write its peak RSS (KiB) to FILE.

A child's peak RSS counts the memory image it was forked from, so a benchmark that has loaded a model
would inflate it: the command is started from this small launcher process instead."""

import resource
import subprocess
import sys

if __name__ == "__main__":
    rc = subprocess.call(sys.argv[2:])
    with open(sys.argv[1], "w") as f:
        f.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
    sys.exit(rc)
