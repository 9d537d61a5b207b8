#!/bin/bash
# Translations of a refactored decoder against an older commit's, byte for byte: for each RUN, test2016
# translated by both commits' `nmt translate` with fp32, bf16, int8 and int8 + shortlist, greedy and beam 5,
# and with a glossary (beam 5; numbers and URLs are kept by default in every row), then `cmp` of each pair.
# Usage: bash bench/identical.sh OLD_COMMIT RUN [RUN ...]   (from the repository's root; data/multi30k)
# Writes bench/work/identical/{old,new}/RUN-NAME.en and prints one line per pair: "same" or "DIFFERS".
set -u
OLD=$1; shift
PY=${PYTHON:-$PWD/.venv/bin/python}
ROOT=$PWD
WORK=bench/work/identical
TREE=$WORK/tree
SRC=data/multi30k/test2016.de
mkdir -p "$WORK/old" "$WORK/new"
rm -rf "$TREE"; git worktree prune
git worktree add -q --detach "$TREE" "$OLD" || exit 1
printf 'Hund\tdog\nMann\tguy\nFrau\tlady\nStraße\troad\n' > "$WORK/glossary.tsv"
declare -A ROWS=(
  [fp32-greedy]="--greedy" [fp32-beam5]="--beam 5"
  [bf16-greedy]="--greedy --dtype bf16" [bf16-beam5]="--beam 5 --dtype bf16"
  [int8-greedy]="--greedy --quantize int8" [int8-beam5]="--beam 5 --quantize int8"
  [int8-shortlist-greedy]="--greedy --quantize int8 --shortlist"
  [int8-shortlist-beam5]="--beam 5 --quantize int8 --shortlist"
  [glossary-beam5]="--beam 5 --glossary $PWD/$WORK/glossary.tsv")
for run in "$@"; do
  run=$(realpath "$run"); name=$(basename "$run")
  for row in $(printf '%s\n' "${!ROWS[@]}" | sort); do
    for side in old new; do
      where=$([ $side = old ] && echo "$TREE" || echo .)
      (cd "$where" && $PY -m nmt translate --model "$run" --input "$ROOT/$SRC" \
        --output "$ROOT/$WORK/$side/$name-$row.en" ${ROWS[$row]} 2>/dev/null) || echo "$side $name $row FAILED"
    done
    if cmp -s "$WORK/old/$name-$row.en" "$WORK/new/$name-$row.en"; then result=same; else result=DIFFERS; fi
    echo "$name $row: $result ($(wc -l < "$WORK/new/$name-$row.en") lines)"
  done
done
git worktree remove --force "$TREE"
