"""python -m bench WHAT ...: print tables, append to bench/results/ (see USAGE and README, Benchmarks)."""

import sys

USAGE = ("usage: python -m bench {prepare [REPEATS...] | scale [REPEATS...] | train [STEPS] "
         "| decode CHECKPOINT [quick] | budget [MINUTES [DTYPE [CONFIG]]] | converge [CONFIG [MAX_MINUTES]] "
         "| vocab | vocab-bleu [STEPS] "
         "| memory [STEPS] "
         "| serve RUN... | ablate [MINUTES [ROW...]] | select RUN | peers CHECKPOINT [quick] "
         "| all [CHECKPOINT]}")


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit(USAGE)
    what, rest = argv[0], argv[1:]
    if what in ("prepare", "all"):
        from bench import prepare
        prepare.main([int(x) for x in rest] if what == "prepare" and rest else None)
    if what in ("scale", "all"):
        from bench import scale
        scale.main([int(x) for x in rest] if what == "scale" and rest else None)
    if what in ("train", "all"):
        from bench import train_speed
        train_speed.main(*(int(x) for x in rest[:1] if what == "train"))
    if what == "decode" or (what == "all" and rest):
        from bench import decode
        decode.main(*rest[:2])
    if what == "budget":  # not part of `all`: it trains for MINUTES (default 15)
        from bench import budget
        budget.main(*(float(a) if i == 0 else a for i, a in enumerate(rest[:3])))
    if what == "vocab":
        from bench import vocab
        vocab.speed()
    if what == "vocab-bleu":  # not part of `all`: two training runs
        from bench import vocab
        vocab.bleu(*(int(a) for a in rest[:1]))
    if what == "converge":  # not part of `all`: trains until early stopping (up to MAX_MINUTES)
        from bench import converge
        converge.main(*(float(a) if i == 1 else a for i, a in enumerate(rest[:2])))
    if what == "select":  # not part of `all`: reads a run trained with keep_last high
        from bench import select
        select.main(*rest)
    if what == "ablate":  # not part of `all`: trains one model per row
        from bench import ablate
        ablate.main(*(float(a) if i == 0 else a for i, a in enumerate(rest)))
    if what == "serve":  # not part of `all`: needs trained run folders
        from bench import serve
        serve.main(*rest)
    if what == "peers":  # not part of `all`: installs OpenNMT-py into bench/work/peers-venv
        from bench import peers
        peers.main(*rest[:2])
    if what == "memory":
        from bench import memory
        memory.main(*(int(a) for a in rest[:1]))
    known = ("prepare", "scale", "train", "decode", "budget", "vocab", "vocab-bleu", "memory", "serve",
             "ablate", "converge", "select", "peers", "all")
    if what not in known:
        raise SystemExit(USAGE)


if __name__ == "__main__":
    main(sys.argv[1:])
