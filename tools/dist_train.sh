#!/usr/bin/env bash
# Multi-process training on one or several machines through torchrun and MMEngine's
# launcher (--launcher pytorch):
#   bash tools/dist_train.sh CONFIG GPUS [train.py args...]
# Several machines (run the same line on every one; README "Many machines"):
#   NNODES=4 NODE_RANK=0 MASTER_ADDR=10.0.0.1 MASTER_PORT=29500 bash tools/dist_train.sh CONFIG 8
# Recovery without a person: MAX_RESTARTS=3 (torch elastic's --max-restarts) restarts the
# whole group when a process dies, with the c10d rendezvous at MASTER_ADDR:MASTER_PORT
# (node ranks are then assigned by the rendezvous; NODE_RANK is not needed); pass --resume so
# each restart continues from the work_dir's last checkpoint. A node that does not come back
# within RDZV_TIMEOUT seconds (default 900) ends the job. RDZV_ID names the job (the same on
# every node; default amd_mm-MASTER_ADDR-MASTER_PORT, unique among live jobs).
# On CPU (tests), pass --cfg-options env_cfg.dist_cfg.backend=gloo.
# The interpreter is $PYTHON (default: python), as in the Makefile: PYTHON=/path/to/venv/bin/python.
set -euo pipefail
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
MASTER_PORT=${MASTER_PORT:-${PORT:-29500}}
MAX_RESTARTS=${MAX_RESTARTS:-0}
RDZV_TIMEOUT=${RDZV_TIMEOUT:-900}
RDZV_ID=${RDZV_ID:-"amd_mm-$MASTER_ADDR-$MASTER_PORT"}
HERE=$(cd "$(dirname "$0")" && pwd)

if [ "$MAX_RESTARTS" -gt 0 ]; then
    # elastic: a failed process makes every node's agent restart its workers. Each attempt
    # gets a store of its own (rank 0 hosts it): torch's store shared across attempts keeps
    # the previous attempt's addresses, and a restarted rank can read one of a dead process
    # ("Connection refused" at process-group start, pytorch/pytorch#167288)
    export TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1
    RENDEZVOUS=(--rdzv-backend=c10d --rdzv-endpoint="$MASTER_ADDR:$MASTER_PORT"
                --rdzv-id="$RDZV_ID" --rdzv-conf="join_timeout=$RDZV_TIMEOUT"
                --max-restarts="$MAX_RESTARTS" --monitor-interval=1)
else
    # fixed: the node ranks given, no restart
    RENDEZVOUS=(--node-rank="$NODE_RANK" --master-addr="$MASTER_ADDR" --master-port="$MASTER_PORT")
fi

export PYTHONPATH="$HERE/..:${PYTHONPATH:-}"
exec "${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --nproc-per-node="$GPUS" \
    "${RENDEZVOUS[@]}" \
    "$HERE/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
