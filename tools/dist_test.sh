#!/usr/bin/env bash
# Multi-process evaluation: bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args...]
# The interpreter is $PYTHON (default: python), as in the Makefile.
set -euo pipefail
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
PORT=${PORT:-29500}
HERE=$(cd "$(dirname "$0")" && pwd)
PYTHONPATH="$HERE/..:${PYTHONPATH:-}" \
"${PYTHON:-python}" -m torch.distributed.run --nproc_per_node="$GPUS" --master_port="$PORT" \
    "$HERE/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"
