#!/bin/bash
# The general model on one CUDA GPU, in one sitting of at most about 9.5 minutes:
#   1. the shipped recipe (configs/general-de-en.yaml, 1x512) alone for SPEED_MINUTES: training tokens/s,
#      to set beside the CPU's (its train.log has the same lines);
#   2. a wider model (2 layers of 1024, emb 512, batches of 8,192 tokens) with seeds 1 and 2 side by side
#      on the same GPU for WIDE_MINUTES each, early stopping as configured;
#   3. best.pt of each seed and the ensemble of both on test2016, the Tatoeba test and newstest2014
#      (beam 5, sacreBLEU).
# Needs data/multi30k, data/tatoeba-de-en and data/news-de-en (`python -m bench general budget` makes them,
# or `nmt data ...`). Logs and metrics go to $OUT (default bench/work/gpu-general).
# Usage: bash bench/gpu-general.sh   (SPEED_MINUTES, WIDE_MINUTES, DEVICE=cpu shorten it for a dry run)
set -u
OUT=${OUT:-bench/work/gpu-general}
PY=${PYTHON:-python3}
SPEED_MINUTES=${SPEED_MINUTES:-1}
WIDE_MINUTES=${WIDE_MINUTES:-5}
DEVICE=${DEVICE:-cuda}
RUNS=${RUNS:-/tmp/nmt-gpu-general}
CONFIG=configs/general-de-en.yaml
WIDE=(--set model.layers=2 --set model.hidden=1024 --set model.emb=512 --set model.dropout=0.3 --set train.max_tokens=8192
      --set train.valid_every=300 --set train.patience=4)
mkdir -p "$OUT" "$RUNS"
export PYTHONUNBUFFERED=1
summary="$OUT/summary.txt"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1
  $PY -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')"
  git rev-parse --short HEAD 2>/dev/null
} > "$summary"
$PY -c "import nmt.cli, nmt.text.segment, nmt.text.spans" >> "$summary" 2>&1 || { cat "$summary"; exit 1; }

echo "== 1. the shipped recipe alone, $SPEED_MINUTES min: training speed" | tee -a "$summary"
rm -rf "$RUNS/speed"
$PY -m nmt train --config $CONFIG --out "$RUNS/speed" --device "$DEVICE" --max-minutes "$SPEED_MINUTES" \
  > "$OUT/speed-console.log" 2>&1
cp "$RUNS/speed/train.log" "$OUT/speed-train.log"
grep -E "model:|stopped|peak GPU" "$RUNS/speed/train.log" | tee -a "$summary"

echo "== 2. wider model (2x1024, emb 512, 8,192-token batches), seeds 1 and 2 side by side, $WIDE_MINUTES min" \
  | tee -a "$summary"
for seed in 1 2; do
  rm -rf "$RUNS/wide-$seed"
  $PY -m nmt train --config $CONFIG --out "$RUNS/wide-$seed" --device "$DEVICE" --max-minutes "$WIDE_MINUTES" \
    --tokenizers "$RUNS/speed/tokenizers" --seed $seed "${WIDE[@]}" > "$OUT/wide-$seed-console.log" 2>&1 &
done
wait
for seed in 1 2; do
  cp "$RUNS/wide-$seed/train.log" "$OUT/wide-$seed-train.log"
  cp "$RUNS/wide-$seed/metrics.jsonl" "$OUT/wide-$seed-metrics.jsonl"
  grep -E "model:|stopped|peak GPU" "$RUNS/wide-$seed/train.log" | tee -a "$summary"
done

echo "== 3. beam 5 on the three test sets (one process: the models load once)" | tee -a "$summary"
$PY - "$RUNS" "$DEVICE" "${TEST_LINES:-0}" >> "$summary" 2>>"$OUT/evaluate.log" <<'PYTHON'
import sys, time
from nmt import Translator
from nmt.evaluate import corpus_bleu
from nmt.fileio import read_lines
runs, device, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
tests = {"test2016": "data/multi30k/test2016", "tatoeba": "data/tatoeba-de-en/test",
         "newstest2014": "data/news-de-en/newstest2014"}
for models in (["wide-1"], ["wide-2"], ["wide-1", "wide-2"]):
    translator = Translator.load([f"{runs}/{m}/best.pt" for m in models], device=device)
    for name, stem in tests.items():
        src, ref = list(read_lines(stem + ".de")), list(read_lines(stem + ".en"))
        if limit:
            src, ref = src[:limit], ref[:limit]
        start = time.time()
        hyps = [t.text for t in translator.translate(src, beam=5)]
        print(f"{' + '.join(models)} | {name} | BLEU {corpus_bleu(hyps, ref):.2f} | "
              f"{len(src) / (time.time() - start):.0f} sentences/s", flush=True)
PYTHON
tail -n 9 "$summary"
