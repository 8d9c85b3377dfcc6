import subprocess
import sys

import numpy as np
import pytest
import torch


@pytest.mark.slow
def test_mmaction_models_import_in_a_fresh_process():
    code = ('import amd_mm, mmaction.models as m; from mmaction.registry import MODELS; '
            'assert MODELS.get("Recognizer3D") is not None; '
            'from mmaction.models.localizers import DRN; '
            'import pytest\n'
            'try:\n    DRN()\nexcept ImportError as e:\n    assert "2714" in str(e)\n'
            'else:\n    raise SystemExit("placeholder DRN built")\n'
            # the CPU-distributed patch is applied only where it is needed
            'import torch, mmengine.dist.utils as du\n'
            'from amd_mm.compat import enable_cpu_distributed\n'
            'assert not hasattr(du._init_dist_pytorch, "__wrapped__")\n'
            'assert not enable_cpu_distributed("none")\n'
            'assert not hasattr(du._init_dist_pytorch, "__wrapped__")\n'
            'assert enable_cpu_distributed("pytorch") == (not torch.cuda.is_available())\n'
            'assert hasattr(du._init_dist_pytorch, "__wrapped__") != torch.cuda.is_available()\n')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
def test_mmaction_models_import_fails_without_the_fix():
    """Guard that the fix is needed (if upstream ships drn, compat leaves it alone)."""
    import importlib.util
    import os
    root = os.path.dirname(importlib.util.find_spec('mmaction').origin)
    shipped = os.path.isfile(os.path.join(root, 'models', 'localizers', 'drn', 'drn.py'))
    proc = subprocess.run([sys.executable, '-c', 'import mmaction.models'], capture_output=True, text=True)
    assert (proc.returncode == 0) == shipped, proc.stderr[-2000:]


def test_numpy2_aliases():
    assert np.trapz([1.0, 1.0, 1.0]) == 2.0
    assert np.in1d([1, 2, 3], [2]).tolist() == [False, True, False]
    assert np.Inf == np.inf
    assert np.isnan(np.NAN)


def test_mmengine_checkpoint_with_history_buffer_loads_weights_only(tmp_path, monkeypatch):
    """The defect: torch >= 2.6 loads weights-only, MMEngine's checkpoints hold a
    HistoryBuffer and numpy objects. The fix reads them, still weights-only."""
    import pytest
    from mmengine.logging import HistoryBuffer
    from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint
    path = tmp_path / 'ckpt.pth'
    hub = HistoryBuffer()
    hub.update(1.5)
    torch.save({'state_dict': {'w': torch.ones(2)}, 'message_hub': {'h': hub},
                'meta': {'dtype': np.dtype('float32'), 'arr': np.arange(3),
                         'best': np.float64(0.5)}}, path)
    with pytest.raises(Exception, match='HistoryBuffer'):
        torch.load(path, weights_only=True)  # without the fix
    calls = []
    load = torch.load
    monkeypatch.setattr(torch, 'load', lambda *a, **k: calls.append(k) or load(*a, **k))
    with_fix = _load_checkpoint(str(path), map_location='cpu')
    assert [k['weights_only'] for k in calls] == [True]
    assert torch.equal(with_fix['state_dict']['w'], torch.ones(2))
    assert with_fix['message_hub']['h'].current() == 1.5
    assert with_fix['meta']['dtype'] == np.float32 and with_fix['meta']['arr'].tolist() == [0, 1, 2]
    assert CheckpointLoader._schemes[''].__wrapped__ is not None  # the one loader it replaces


def test_collate_fn_of_a_package_scoped_base_builds(demo_root, tmp_path):
    """`_base_ = ['mmpretrain::...']` puts `_scope_` into train_dataloader.collate_fn; the
    Runner builds the function in that scope instead of passing `_scope_` to it."""
    import pytest
    from mmengine.config import Config
    from mmengine.runner import Runner
    from test_configs import point_to_demo
    config = tmp_path / 'over_mae.py'
    shipped = 'mmpretrain::mae/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.py'
    config.write_text(f'_base_ = [{shipped!r}]\n')
    loader = Config.fromfile(str(config)).train_dataloader
    assert loader.collate_fn == dict(_scope_='mmpretrain', type='default_collate')
    point_to_demo(loader.dataset, demo_root)
    loader.update(batch_size=2, num_workers=0, persistent_workers=False)
    with pytest.raises(TypeError, match="unexpected keyword argument '_scope_'"):
        next(iter(Runner.build_dataloader.__wrapped__(loader)))
    batch = next(iter(Runner.build_dataloader(loader)))
    assert batch['inputs'].shape == (2, 3, 224, 224)  # stacked by default_collate
