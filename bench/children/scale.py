"""`python -m bench.children.scale SRC TGT TOKENIZERS OUT prepare|train`: prepare a big corpus, or train the
shipped 2x512 config 3 steps from its cache; prints one JSON line with the seconds since the process
started, the time to the first step (train) and the peak RSS."""

import time

T0 = time.time()  # before the imports: the time to the first step includes them

import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from nmt.config import load  # noqa: E402
from nmt.training import trainer  # noqa: E402

if __name__ == "__main__":
    src, tgt, tok, out, what = sys.argv[1:6]
    cfg = load("configs/multi30k-de-en.yaml", [f"data.train_src={src}", f"data.train_tgt={tgt}",
               f"data.tokenizers={tok}", "train.max_steps=3", "train.log_every=1", "train.threads=2"])
    first = None
    if what == "prepare":
        from nmt.corpus import prepared_or_cached
        from nmt.text.tokenizer import load_tokenizers
        s, t = load_tokenizers(tok)
        prepared_or_cached(Path(src), Path(tgt), s, t, Path(out) / "prepared" / "train", cfg.model.max_len)
    else:
        trainer.run(cfg, Path(out))
        with open(Path(out) / "metrics.jsonl") as metrics:
            first = json.loads(next(metrics))["time"] - T0
    print(json.dumps({"seconds": time.time() - T0, "first_step_s": first,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
