"""tools/gpu_check.sh, checked without a GPU: the script parses, every command of its dry
run is accepted by the tool it calls, its report merges the pieces, and (e2e) its CPU
smoke mode runs every piece at a tiny size and writes the record."""
import importlib.util
import json
import os
import os.path as osp
import shlex
import subprocess

import pytest
import torch

from conftest import ROOT

SCRIPT = osp.join(ROOT, 'tools', 'gpu_check.sh')


def bash(*args, timeout=60, env=None):
    return subprocess.run(['bash', SCRIPT, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, **(env or {})))


def load_tool(name):
    spec = importlib.util.spec_from_file_location(f'amd_mm_tool_{name}',
                                                  osp.join(ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_parses_and_rejects_unknown_arguments():
    assert subprocess.run(['bash', '-n', SCRIPT]).returncode == 0
    proc = bash('--no-such-flag')
    assert proc.returncode == 2 and "unknown argument '--no-such-flag'" in proc.stderr
    if not torch.cuda.is_available():  # the real check refuses to start without a GPU
        proc = bash('--out', '/tmp/unused')
        assert proc.returncode == 2 and 'no CUDA GPU here' in proc.stderr


def test_every_dry_run_command_is_accepted_by_its_tool(tmp_path):
    proc = bash('--dry-run', '--official', str(tmp_path / 'export'), '--out', str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    commands = [shlex.split(line[2:]) for line in proc.stdout.splitlines() if line.startswith('+ ')]
    assert not list(tmp_path.iterdir())  # a dry run writes nothing
    tools = {'benchmark': load_tool('benchmark'), 'plan': load_tool('plan')}
    from amd_mm.measure import gpu_report
    seen = set()
    for argv in commands:
        if argv[1:3] == ['-m', 'pytest']:
            assert argv[argv.index('-m', 2) + 1] == 'gpu' and '--junitxml' in argv
            seen.add('pytest')
        elif argv[1:3] == ['-m', 'amd_mm.measure.gpu_report']:
            args = gpu_report.parse_args(argv[3:])
            assert args.out == str(tmp_path / 'gpu_check.json')
            seen.add('report')
        else:
            tool = osp.splitext(osp.basename(argv[1]))[0]
            args = tools[tool].parse_args(argv[2:])  # raises SystemExit on a bad argument
            assert osp.isfile(osp.join(ROOT, args.config)) and args.device == 'cuda'
            dtype = args.amp if tool == 'benchmark' else args.dtype
            setting = 'video' if 'video' in args.config else 'image'
            seen.add((tool, setting, dtype or 'fp32'))
            # the official step runs beside the video bf16 step only
            assert (args.official is not None) == (setting == 'video' and dtype == 'bf16')
            if tool == 'benchmark':
                assert args.matmul_peak and args.peak_dtype == 'bf16'
            else:
                assert args.measure and args.json and args.no_search
    assert seen == {'pytest', 'report'} | {(tool, setting, dtype) for tool in ('benchmark', 'plan')
                                           for setting in ('video', 'image')
                                           for dtype in ('bf16', 'fp32')}


def test_report_merges_the_pieces(tmp_path, capsys):
    from amd_mm.measure import gpu_report
    bench = dict(device='cuda', device_name='GPU X', samples_per_step=2, sample_unit='clip',
                 step_time_s=dict(median=0.5), samples_per_s=4.0, peak_memory_mb=1000.0,
                 gflops_per_s=200.0, matmul_peak_gflops=800.0, matmul_peak_dtype='bf16',
                 fraction_of_matmul_peak=0.25,
                 official=dict(step_time_s=dict(median=0.8), samples_per_s=2.5,
                               peak_memory_mb=1600.0))
    plan = dict(estimate=dict(peak=950.0), measured=dict(peak=1000.0, estimate_over_measured=0.95),
                official=dict(estimate=dict(peak=1500.0), amd_mm_over_official=0.63))
    (tmp_path / 'bench_video_bf16.json').write_text('log line\n' + json.dumps(bench) + '\n')
    (tmp_path / 'plan_video_bf16.json').write_text(json.dumps(plan))
    (tmp_path / 'pytest_gpu.xml').write_text(
        '<testsuites><testsuite tests="8" failures="0" errors="0" skipped="8"/></testsuites>')
    record = gpu_report.main([str(tmp_path), '--out', str(tmp_path / 'record.json'),
                              '--date', '2030-01-01'])
    summary = record['summary']['video_bf16']
    assert summary['speedup_over_official'] == round(4.0 / 2.5, 3)
    assert summary['memory_over_official'] == round(1000 / 1600, 3)
    assert summary['plan_estimate_over_measured'] == 0.95
    assert summary['amd_mm_over_official_planned'] == 0.63
    assert record['pytest_gpu'] == dict(tests=8, failures=0, errors=0, skipped=8)
    assert json.loads((tmp_path / 'record.json').read_text())['summary'] == record['summary']
    row = capsys.readouterr().out.strip()
    assert row.startswith('| video, bf16 (2030-01-01 GPU X) | 0.800 -> 0.500 (**1.60x**)')
    (tmp_path / 'bench_video_bf16.json').write_text('')
    with pytest.raises(ValueError, match='its command failed'):
        gpu_report.collect(str(tmp_path))


@pytest.mark.e2e
def test_cpu_smoke_runs_every_piece(tmp_path):
    """All pieces at 64 px, one step each, two blocks per encoder, on the CPU; the gpu tests skip."""
    args = ['--cpu-smoke', '--out', str(tmp_path)]
    official = os.environ.get('AMD_OFFICIAL_ROOT')
    if official:
        args += ['--official', official]
    proc = bash(*args, timeout=3000, env=dict(OMP_NUM_THREADS='2'))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = json.loads((tmp_path / 'gpu_check.json').read_text())
    assert set(record['summary']) == {'video_bf16', 'video_fp32', 'image_bf16', 'image_fp32'}
    tests = record['pytest_gpu']
    assert tests['tests'] > 0 and tests['failures'] == tests['errors'] == 0
    if not torch.cuda.is_available():
        assert tests['skipped'] == tests['tests']
    for key, summary in record['summary'].items():
        assert summary['samples_per_s'] > 0 and summary['fraction_of_matmul_peak'] > 0
        assert abs(summary['plan_estimate_over_measured'] - 1) <= 0.15, (key, summary)
    if official:
        assert record['summary']['video_bf16']['speedup_over_official'] > 0
        assert record['summary']['video_bf16']['amd_mm_over_official_planned'] > 0
    rows = [line for line in proc.stdout.splitlines() if line.startswith('| ')]
    assert len(rows) == 4
