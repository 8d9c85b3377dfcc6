#!/usr/bin/env bash
# Install the whole amd_mm stack into the active Python. Idempotent: each step
# is skipped when what it installs is already there and working.
#
#   bash tools/install.sh            # or: make install
#
# Environment:
#   PYTHON           interpreter to install into (default: python3)
#   AMD_MM_WHEELS    folder searched for a prebuilt mmcv wheel (default: ../shared/wheels)
#   MMCV_BUILD_DIR   scratch folder for a source build of mmcv (default: a temp dir)
set -euo pipefail

PYTHON=${PYTHON:-python3}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WHEELS=${AMD_MM_WHEELS:-$HERE/../shared/wheels}
PIP="$PYTHON -m pip"
export PIP_DISABLE_PIP_VERSION_CHECK=1

log() { printf '[install] %s\n' "$*"; }

# 1. Build tooling. setuptools >= 81 has no pkg_resources (mmcv's setup.py and
#    mmengine's `pkg::` config bases need it); torch 2.14.1 needs >= 77.0.3.
if ! $PYTHON - <<'PY' 2>/dev/null
import setuptools, pkg_resources, wheel, packaging
v = tuple(int(x) for x in setuptools.__version__.split('.')[:2])
assert (77, 0) <= v < (81, 0), v
PY
then
  log "setuptools>=77.0.3,<81 wheel packaging"
  $PIP install -q "setuptools>=77.0.3,<81" wheel packaging
fi

# 2. torch + torchvision (CUDA builds that also run on CPU).
if ! $PYTHON -c "import torch, torchvision; assert torch.__version__.startswith('2.14.1'); assert torchvision.__version__.startswith('0.29.1')" 2>/dev/null; then
  log "torch==2.14.1 torchvision==0.29.1"
  $PIP install -q torch==2.14.1 torchvision==0.29.1
fi

# 3. mmengine first: importing mmcv needs it.
if ! $PYTHON -c "import importlib.metadata as m; assert m.version('mmengine') == '0.10.7'" 2>/dev/null; then
  log "mmengine==0.10.7"
  $PIP install -q mmengine==0.10.7
fi

# 4. mmcv 2.1.0 with compiled ops (mmdet imports mmcv.ops; the AVA heads need RoIAlign).
mmcv_ok() {
  $PYTHON - <<'PY' 2>/dev/null
import torch  # mmcv._ext links torch's libraries without rpath
import mmcv
from packaging.version import Version
assert Version('2.0.0') <= Version(mmcv.__version__) < Version('2.2.0'), mmcv.__version__
import mmcv._ext  # compiled ops present
PY
}
if ! mmcv_ok; then
  installed=0
  # 4a. A prebuilt wheel that fits this Python / platform / torch.
  for whl in "$WHEELS"/mmcv-2.1.0-*.whl; do
    [ -f "$whl" ] || continue
    if $PYTHON - "$whl" <<'PY'
import sys, torch
from packaging.tags import sys_tags
from packaging.utils import parse_wheel_filename
_, _, _, tags = parse_wheel_filename(sys.argv[1].rsplit('/', 1)[-1])
ok = any(t in tags for t in sys_tags()) and torch.__version__.startswith('2.14.')
ok = ok and not torch.cuda.is_available()  # the shared wheel has CPU ops only
sys.exit(0 if ok else 1)
PY
    then
      if [ -f "$WHEELS/SHA256SUMS" ] && ! (cd "$WHEELS" && grep "$(basename "$whl")" SHA256SUMS | sha256sum -c --quiet -); then
        log "checksum mismatch for $whl: ignoring it"; continue
      fi
      log "mmcv from prebuilt wheel $whl"
      $PIP uninstall -q -y mmcv-lite 2>/dev/null || true
      $PIP install -q --no-deps "$whl" && mmcv_ok && installed=1 && break
    fi
  done
  # 4b. Build from the registry's sdist (30-45 min on 2 cores; pip caches the wheel).
  if [ "$installed" = 0 ]; then
    log "building mmcv 2.1.0 with ops from source (30-45 minutes on 2 cores)"
    build=${MMCV_BUILD_DIR:-$(mktemp -d)}
    $PIP install -q "packaging" "ninja" "psutil" "pyyaml" "addict" "yapf" "opencv-python" "Pillow"
    $PIP download -q --no-deps --no-binary :all: -d "$build" mmcv==2.1.0
    tar -xzf "$build"/mmcv-2.1.0.tar.gz -C "$build"
    # torch >= 2.10 headers require C++20; mmcv 2.1.0 forces -std=c++17.
    sed -i 's/-std=c++17/-std=c++20/g' "$build/mmcv-2.1.0/setup.py"
    $PIP uninstall -q -y mmcv-lite 2>/dev/null || true
    MMCV_WITH_OPS=1 FORCE_CUDA=${FORCE_CUDA:-0} MAX_JOBS=${MAX_JOBS:-2} \
      $PIP install --no-build-isolation "$build/mmcv-2.1.0"
    mmcv_ok || { log "mmcv build finished but mmcv._ext does not import"; exit 1; }
  fi
fi

# 5. The OpenMMLab toolboxes and the rest (pinned, tested together).
if ! $PYTHON -c "
import importlib.metadata as m
want = {'mmengine': '0.10.7', 'mmpretrain': '1.2.0', 'mmaction2': '1.2.0', 'mmdet': '3.3.0', 'decord': '0.6.0'}
for k, v in want.items():
    assert m.version(k) == v, k
import timm, sklearn, matplotlib, pytest, cv2
" 2>/dev/null; then
  log "mmengine mmpretrain mmaction2 mmdet timm decord ..."
  $PIP install -q -r "$HERE/requirements.txt"
fi

# 6. amd_mm itself, editable.
# (re)installed when missing or when it points at another checkout
if ! (cd /tmp && $PYTHON -c "import amd_mm, os, sys; sys.exit(os.path.dirname(os.path.dirname(os.path.realpath(amd_mm.__file__))) != os.path.realpath(sys.argv[1]))" "$HERE") 2>/dev/null; then
  log "amd_mm (editable)"
  $PIP install -q --no-deps --no-build-isolation -e "$HERE"
fi

$PYTHON -m pip check >/dev/null || { $PYTHON -m pip check; log "pip check reports conflicts (see above)"; }
log "done: $($PYTHON -c 'import torch, mmcv, mmengine, mmpretrain, mmaction, mmdet; print("torch", torch.__version__, "mmcv", mmcv.__version__, "mmengine", mmengine.__version__, "mmpretrain", mmpretrain.__version__, "mmaction2", mmaction.__version__, "mmdet", mmdet.__version__)')"
