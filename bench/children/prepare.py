"""`python -m bench.children.prepare SRC TGT TOKENIZERS OUT`: time `prepare` on a corpus; prints one JSON line
with its seconds, the pairs kept and this process's peak RSS."""

import json
import resource
import sys
import time
from pathlib import Path

from nmt.corpus import prepare
from nmt.text.tokenizer import load_tokenizers

if __name__ == "__main__":
    src, tgt, tok, out = sys.argv[1:5]
    s, t = load_tokenizers(tok)
    t0 = time.time()
    stats = prepare(Path(src), Path(tgt), s, t, Path(out), max_len=100)
    print(json.dumps({"seconds": time.time() - t0, "pairs": stats.kept,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
