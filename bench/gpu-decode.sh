#!/bin/bash
# Decoding on a CUDA machine: fp32, bf16 and the shortlist, beam 5 and greedy, batch 128, on test2016
# with MODEL (a run folder or checkpoint, its shortlist.bin beside it); whether batch 1 and batch 128
# give the same lines; then the decoding tests, which load models onto the GPU where they do not pin
# the CPU. Writes $OUT/summary.txt (default bench/work/gpu). Usage: bash bench/gpu-decode.sh MODEL
set -u
OUT=${OUT:-bench/work/gpu}
PY=${PYTHON:-python3}
MODEL=$1
mkdir -p "$OUT"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  $PY -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
} > "$OUT/summary.txt" 2>&1
translate() {  # NAME FLAGS...: time one whole `nmt translate` of test2016, then its BLEU
  local name=$1; shift
  local start=$(date +%s.%N)
  $PY -m nmt translate --model "$MODEL" --device cuda --input data/multi30k/test2016.de \
    --output "$OUT/$name.en" "$@" 2>> "$OUT/errors.log" || { echo "$name: failed" | tee -a "$OUT/summary.txt"; return; }
  local end=$(date +%s.%N)
  local bleu=$($PY -m nmt evaluate --hyp "$OUT/$name.en" --ref data/multi30k/test2016.en --metrics bleu --json \
    | $PY -c "import json, sys; print(round(json.load(sys.stdin)['score'], 2))")
  printf "%-26s %6s s  BLEU %s\n" "$name" "$($PY -c "print(round($end - $start, 2))")" "$bleu" \
    | tee -a "$OUT/summary.txt"
}
for beam in 5 1; do
  translate "fp32-beam$beam" --beam $beam
  translate "bf16-beam$beam" --beam $beam --dtype bf16
  translate "bf16-shortlist-beam$beam" --beam $beam --dtype bf16 --shortlist
  translate "fp32-shortlist-beam$beam" --beam $beam --shortlist
done
for name in fp32 bf16; do
  flags=(); [ $name = bf16 ] && flags=(--dtype bf16)
  translate "$name-beam5-batch1" --beam 5 --batch-size 1 "${flags[@]}"
  echo "$name beam 5, lines that differ between batch 1 and 128: $(diff "$OUT/$name-beam5-batch1.en" \
    "$OUT/$name-beam5.en" | grep -c '^<')" | tee -a "$OUT/summary.txt"
done
timeout 300 $PY -m pytest -q -p no:cacheprovider tests/test_shortlist.py tests/test_translate.py \
  tests/test_model.py tests/test_search.py > "$OUT/tests.log" 2>&1
echo "pytest exit $?" | tee -a "$OUT/summary.txt"
tail -n 3 "$OUT/tests.log" | tee -a "$OUT/summary.txt"
