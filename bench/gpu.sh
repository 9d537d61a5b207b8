#!/bin/bash
# The GPU check, on a machine with one CUDA GPU: a full training run of the attention config to early
# stopping with the default dtype (then test2016 BLEU), `python -m bench train`, a one-GPU torchrun run
# and the test suite. Needs data/multi30k (`nmt data multi30k`); writes logs into $OUT (default
# bench/work/gpu). Usage: bash bench/gpu.sh [MAX_MINUTES_OF_THE_TRAINING_RUN]
# (STEPS, BENCH_STEPS, TORCHRUN_STEPS, TEST_SECONDS, TEST_WORKERS shorten it for a dry run on a CPU.)
set -u
OUT=${OUT:-bench/work/gpu}
PY=${PYTHON:-python3}
MINUTES=${1:-30}
RUN=${RUN:-/tmp/nmt-gpu-attention}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
DATA=(--train-src data/multi30k/train.de --train-tgt data/multi30k/train.en
      --valid-src data/multi30k/val.de --valid-tgt data/multi30k/val.en)
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  $PY -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
} > "$OUT/summary.txt" 2>&1
$PY -c "import nmt.cli, nmt.serving.server" >> "$OUT/summary.txt" 2>&1 || { cat "$OUT/summary.txt"; exit 1; }

echo "== attention config, to early stopping (at most $MINUTES min)" | tee -a "$OUT/summary.txt"
rm -rf "$RUN"
timeout $((${MINUTES%.*} * 60 + 120)) $PY -m nmt train --config configs/multi30k-de-en-attention.yaml --out "$RUN" \
  "${DATA[@]}" --max-minutes "$MINUTES" --max-steps "${STEPS:-0}" > "$OUT/attention-console.log" 2>&1
cp "$RUN/train.log" "$OUT/attention-train.log"; cp "$RUN/metrics.jsonl" "$OUT/attention-metrics.jsonl"
grep -E "model:|stopped|peak GPU" "$RUN/train.log" | tee -a "$OUT/summary.txt"
for beam in 1 5; do
  echo "test2016, beam $beam:" | tee -a "$OUT/summary.txt"
  $PY -m nmt evaluate --model "$RUN/best.pt" --src data/multi30k/test2016.de --ref data/multi30k/test2016.en \
    --beam $beam --metrics bleu 2>&1 | tee -a "$OUT/summary.txt"
done

echo "== python -m bench train" | tee -a "$OUT/summary.txt"
timeout 240 $PY -m bench train ${BENCH_STEPS:-} > "$OUT/bench-train.log" 2>&1
tail -n 30 bench/results/train_speed.jsonl | grep -i '"device": "[^c]' > "$OUT/train_speed.jsonl"

echo "== torchrun, one GPU, 300 steps" | tee -a "$OUT/summary.txt"
rm -rf /tmp/nmt-gpu-torchrun
timeout 180 $PY -m torch.distributed.run --standalone --nproc_per_node 1 -m nmt train \
  --config configs/multi30k-de-en-attention.yaml --out /tmp/nmt-gpu-torchrun "${DATA[@]}" \
  --tokenizers "$RUN/tokenizers" --max-steps "${TORCHRUN_STEPS:-300}" > "$OUT/torchrun.log" 2>&1
echo "torchrun exit $?" | tee -a "$OUT/summary.txt"
grep -E "model:|distributed|stopped|peak GPU" /tmp/nmt-gpu-torchrun/train.log | tee -a "$OUT/summary.txt"

echo "== tests" | tee -a "$OUT/summary.txt"
timeout "${TEST_SECONDS:-300}" $PY -m pytest -q -p no:cacheprovider -rs -n "${TEST_WORKERS:-8}" tests \
  > "$OUT/tests.log" 2>&1
echo "pytest exit $?" | tee -a "$OUT/summary.txt"
tail -n 3 "$OUT/tests.log" | tee -a "$OUT/summary.txt"
