#!/usr/bin/env bash
# The first run on a GPU, in one command (meant to take under 8 minutes on one GPU):
#
#   bash tools/gpu_check.sh [--out DIR] [--official DIR] [--iters N] [--dry-run | --cpu-smoke]
#
# 1. the tests marked `gpu` (AmpOptimWrapper fp16 / bf16 steps, bf16 teacher);
# 2. tools/benchmark.py on both benchmark configs in bf16 (AmpOptimWrapper) and fp32:
#    samples/s, max allocated memory, GFLOP/s and the fraction of the GPU's bf16 matmul peak;
# 3. the official MCG-NJU/AMD step at the video setting in its own fp16 autocast, in the
#    same process as amd_mm's bf16 step, when an export of its repository is given
#    (--official DIR or $AMD_OFFICIAL_ROOT);
# 4. tools/plan.py's estimate beside the measured peak of the same step (both dtypes);
# 5. one JSON record, DIR/gpu_check.json, and the README rows on stdout
#    (python -m amd_mm.measure.gpu_report).
#
# --dry-run prints the commands without running them; --cpu-smoke runs every piece on the
# CPU at a tiny size (64 px, one step, two blocks per encoder unless --official; the gpu
# tests skip) to check the pieces and their arguments on a machine without a GPU. Each
# piece's output is in DIR/parts/, its log next to it; a failing piece stops the check.
set -euo pipefail

OUT=work_dirs/gpu_check
OFFICIAL=${AMD_OFFICIAL_ROOT:-}
MODE=gpu
ITERS=20
WARMUP=5
PY=${PYTHON:-python3}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    --official) OFFICIAL=$2; shift 2 ;;
    --iters) ITERS=$2; shift 2 ;;
    --dry-run) MODE=dry; shift ;;
    --cpu-smoke) MODE=smoke; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."

VIDEO=configs/benchmark/amd_video_vit-s_vit-b_bench.py
IMAGE=configs/benchmark/amd_image_vit-s_vit-b_bench.py
DEVICE=cuda
VIDEO_OPTS=()
IMAGE_OPTS=()
PEAK_OPTS=()
if [[ $MODE == smoke ]]; then
  # tiny shapes the official models still accept (16 frames, tubelet 2, patch 16), and a
  # small peak matmul (a 2048 bf16 matmul takes seconds on a CPU)
  DEVICE=cpu; ITERS=1; WARMUP=1; PEAK_OPTS=(--matmul-size 256)
  VIDEO_OPTS=(--cfg-options model.backbone.img_size=64 model.teacher.backbone.img_size=64
              model.teacher.backbone.embed_dims=384 model.teacher.backbone.num_heads=6)
  IMAGE_OPTS=(--cfg-options model.backbone.img_size=64 model.teacher.backbone.img_size=64)
  if [[ -z $OFFICIAL ]]; then
    # no official step to match: two blocks per encoder, one per decoder and generator
    SHALLOW=(model.student_layers=[1,2] model.teacher_layers=[1,2] model.decoder.depth=1
             model.generator.depth=1)
    VIDEO_OPTS+=(model.backbone.depth=2 model.teacher.backbone.depth=2 "${SHALLOW[@]}")
    IMAGE_OPTS+=(model.backbone.arch.num_layers=2 model.teacher.backbone.arch.num_layers=2
                 "${SHALLOW[@]}")
  fi
elif [[ $MODE == gpu ]]; then
  if ! $PY -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo 'gpu_check.sh: no CUDA GPU here; --cpu-smoke checks the pieces on the CPU' >&2
    exit 2
  fi
fi
PARTS=$OUT/parts
[[ $MODE == dry ]] || mkdir -p "$PARTS"

# run NAME CMD...: CMD's stdout to $PARTS/NAME, its stderr to $PARTS/NAME.log
run() {
  local name=$1; shift
  echo "+ $*"
  [[ $MODE == dry ]] && return 0
  local start=$SECONDS
  if ! "$@" > "$PARTS/$name" 2> "$PARTS/$name.log"; then
    echo "gpu_check.sh: '$name' failed; its log: $PARTS/$name.log" >&2
    tail -n 20 "$PARTS/$name.log" >&2
    exit 1
  fi
  echo "  ($((SECONDS - start)) s)"
}

run pytest_gpu.txt $PY -m pytest -m gpu -q tests/test_precision.py -p no:cacheprovider \
  --junitxml "$PARTS/pytest_gpu.xml"

for setting in video image; do
  if [[ $setting == video ]]; then cfg=$VIDEO; opts=("${VIDEO_OPTS[@]}"); else cfg=$IMAGE; opts=("${IMAGE_OPTS[@]}"); fi
  official_opts=()
  if [[ $setting == video && -n $OFFICIAL ]]; then
    official_opts=(--official "$OFFICIAL")
  fi
  # bf16 beside the official step (its own fp16 autocast, same process, same settings)
  run "bench_${setting}_bf16.json" $PY tools/benchmark.py "$cfg" --device $DEVICE --amp bf16 \
    --iters "$ITERS" --warmup "$WARMUP" --matmul-peak --peak-dtype bf16 "${PEAK_OPTS[@]}" \
    "${official_opts[@]}" "${opts[@]}"
  run "bench_${setting}_fp32.json" $PY tools/benchmark.py "$cfg" --device $DEVICE \
    --iters "$ITERS" --warmup "$WARMUP" --matmul-peak --peak-dtype bf16 "${PEAK_OPTS[@]}" "${opts[@]}"
  run "plan_${setting}_bf16.json" $PY tools/plan.py "$cfg" --dtype bf16 --no-search --measure \
    --device $DEVICE --json "${official_opts[@]}" "${opts[@]}"
  run "plan_${setting}_fp32.json" $PY tools/plan.py "$cfg" --dtype fp32 --no-search --measure \
    --device $DEVICE --json "${opts[@]}"
done

run report.md $PY -m amd_mm.measure.gpu_report "$PARTS" --out "$OUT/gpu_check.json" \
  --date "$(date -u +%Y-%m-%d)"
[[ $MODE == dry ]] || { cat "$PARTS/report.md"; echo "record: $OUT/gpu_check.json"; }
