"""python -m bench {prepare|train|decode MODEL|all [MODEL]}: print tables, append to bench/results/."""

import sys

USAGE = "usage: python -m bench {prepare [REPEATS...] | scale [REPEATS...] | train [STEPS] | decode CHECKPOINT | all [CHECKPOINT]}"


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
        decode.main(rest[0])
    if what not in ("prepare", "scale", "train", "decode", "all"):
        raise SystemExit(USAGE)


if __name__ == "__main__":
    main(sys.argv[1:])
