#!/usr/bin/env bash
# Training on a slurm cluster:
#   GPUS=32 bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args...]
# Default: one task per GPU, MMEngine's slurm launcher (SLURM_PROCID / SLURM_NTASKS /
# SLURM_NODELIST), no restart.
# Recovery without a person: MAX_RESTARTS=3 runs one torchrun agent per node instead
# (NNODES = GPUS / GPUS_PER_NODE nodes, c10d rendezvous at MASTER_ADDR:MASTER_PORT, default
# the first node of the allocation and 29500) with torch elastic's --max-restarts: a process
# that dies makes every node restart its workers, which resume from WORK_DIR's last checkpoint
# (--resume is added). A node that does not come back within RDZV_TIMEOUT seconds (default
# 900) ends the job.
# The interpreter is $PYTHON (default: python), as in the Makefile.
set -euo pipefail
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
MAX_RESTARTS=${MAX_RESTARTS:-0}
HERE=$(cd "$(dirname "$0")" && pwd)

if [ "$MAX_RESTARTS" -gt 0 ]; then
    NNODES=${NNODES:-$(( (GPUS + GPUS_PER_NODE - 1) / GPUS_PER_NODE ))}
    MASTER_PORT=${MASTER_PORT:-29500}
    RDZV_TIMEOUT=${RDZV_TIMEOUT:-900}
    # a store of its own for every attempt (see tools/dist_train.sh)
    export TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1
    # the first node of the allocation hosts the rendezvous (inside the job: srun's environment)
    # shellcheck disable=SC2016
    PYTHONPATH="$HERE/..:${PYTHONPATH:-}" \
    srun -p "${PARTITION}" \
        --job-name="${JOB_NAME}" \
        --gres=gpu:"${GPUS_PER_NODE}" \
        --nodes="${NNODES}" \
        --ntasks="${NNODES}" \
        --ntasks-per-node=1 \
        --cpus-per-task="$(( CPUS_PER_TASK * GPUS_PER_NODE ))" \
        --kill-on-bad-exit=1 \
        ${SRUN_ARGS} \
        bash -c 'exec "$0" -m torch.distributed.run --nnodes="$1" --nproc-per-node="$2" \
            --rdzv-backend=c10d \
            --rdzv-endpoint="${MASTER_ADDR:-$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)}:$3" \
            --rdzv-id="$SLURM_JOB_ID" --rdzv-conf="join_timeout=$4" --max-restarts="$5" \
            --monitor-interval=1 "${@:6}"' \
        "${PYTHON:-python}" "${NNODES}" "${GPUS_PER_NODE}" "${MASTER_PORT}" "${RDZV_TIMEOUT}" \
        "${MAX_RESTARTS}" "$HERE/train.py" "${CONFIG}" --work-dir="${WORK_DIR}" \
        --launcher=pytorch --resume "${@:5}"
else
    PYTHONPATH="$HERE/..:${PYTHONPATH:-}" \
    srun -p "${PARTITION}" \
        --job-name="${JOB_NAME}" \
        --gres=gpu:"${GPUS_PER_NODE}" \
        --ntasks="${GPUS}" \
        --ntasks-per-node="${GPUS_PER_NODE}" \
        --cpus-per-task="${CPUS_PER_TASK}" \
        --kill-on-bad-exit=1 \
        ${SRUN_ARGS} \
        "${PYTHON:-python}" -u "$HERE/train.py" "${CONFIG}" --work-dir="${WORK_DIR}" --launcher="slurm" "${@:5}"
fi
