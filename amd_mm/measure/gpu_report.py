"""Merge the outputs of ``tools/gpu_check.sh`` into one JSON record and README rows.

    python -m amd_mm.measure.gpu_report PARTS_DIR [--out FILE]

``PARTS_DIR`` holds what the check's pieces wrote: ``bench_<setting>_<dtype>.json``
(``tools/benchmark.py``, with the official step under ``official`` when it was timed
too), ``plan_<setting>_<dtype>.json`` (``tools/plan.py --measure --json``) and
``pytest_gpu.xml`` (``pytest -m gpu --junitxml``). The record keeps every piece and adds,
per setting and dtype, the numbers the README reports; the README rows go to stdout.
"""
import argparse
import glob
import json
import os.path as osp
import re
import sys
import xml.etree.ElementTree as ET

_NAME = re.compile(r'^(bench|plan)_(?P<setting>[a-z0-9]+)_(?P<dtype>fp32|bf16|fp16)\.json$')


def read_json(path: str) -> dict:
    lines = [line for line in open(path).read().splitlines() if line.strip()]
    if not lines:
        raise ValueError(f'{path} is empty: its command failed (see its .log)')
    return json.loads(lines[-1])


def read_junit(path: str) -> dict:
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == 'testsuite' else list(root)
    keys = ('tests', 'failures', 'errors', 'skipped')
    return {k: sum(int(s.get(k, 0)) for s in suites) for k in keys}


def collect(parts: str) -> dict:
    """Every piece under ``parts``, and a summary per (setting, dtype)."""
    record = dict(bench={}, plan={}, pytest_gpu=None, summary={})
    for path in sorted(glob.glob(osp.join(parts, '*.json'))):
        match = _NAME.match(osp.basename(path))
        if not match:
            continue
        kind = match.group(1)
        record[kind][f"{match.group('setting')}_{match.group('dtype')}"] = read_json(path)
    junit = osp.join(parts, 'pytest_gpu.xml')
    if osp.isfile(junit):
        record['pytest_gpu'] = read_junit(junit)
    for key, bench in record['bench'].items():
        setting, dtype = key.rsplit('_', 1)
        plan = record['plan'].get(key, {})
        record['summary'][key] = summarize(bench, plan, bench.get('official'), dtype)
    return record


def summarize(bench: dict, plan: dict, official, dtype: str) -> dict:
    out = dict(device=bench.get('device_name', bench.get('device')), dtype=dtype,
               samples_per_step=bench.get('samples_per_step'),
               sample_unit=bench.get('sample_unit'),
               step_time_s=bench.get('step_time_s', {}).get('median'),
               samples_per_s=bench.get('samples_per_s'),
               peak_memory_mb=bench.get('peak_memory_mb'),
               gflops_per_s=bench.get('gflops_per_s'),
               matmul_peak_gflops=bench.get('matmul_peak_gflops'),
               matmul_peak_dtype=bench.get('matmul_peak_dtype'),
               fraction_of_matmul_peak=bench.get('fraction_of_matmul_peak'))
    if plan:
        out['plan_estimate_mb'] = plan.get('estimate', {}).get('peak')
        measured = plan.get('measured') or {}
        out['plan_measured_mb'] = measured.get('peak')
        out['plan_estimate_over_measured'] = measured.get('estimate_over_measured')
        if plan.get('official'):
            out['official_plan_estimate_mb'] = plan['official']['estimate']['peak']
            out['amd_mm_over_official_planned'] = plan['official']['amd_mm_over_official']
    if official:
        out['official_step_time_s'] = official['step_time_s']['median']
        out['official_samples_per_s'] = official['samples_per_s']
        out['official_peak_memory_mb'] = official.get('peak_memory_mb')
        if out['samples_per_s']:
            out['speedup_over_official'] = round(out['samples_per_s'] / official['samples_per_s'], 3)
        if out['peak_memory_mb'] and official.get('peak_memory_mb'):
            out['memory_over_official'] = round(
                out['peak_memory_mb'] / official['peak_memory_mb'], 3)
    return out


def readme_rows(record: dict, date: str = '') -> list:
    """Rows in the layout of the README's performance table."""
    rows = []
    for key, s in sorted(record['summary'].items()):
        off_time = s.get('official_step_time_s')
        step = (f"{off_time:.3f} -> {s['step_time_s']:.3f} (**{s['speedup_over_official']:.2f}x**)"
                if off_time else f"- -> {s['step_time_s']:.3f}")
        memory = (f"{s['official_peak_memory_mb']:.0f} -> {s['peak_memory_mb']:.0f}"
                  if s.get('official_peak_memory_mb') else f"- -> {s['peak_memory_mb']:.0f}")
        plan = (f"{s['plan_estimate_mb']:.0f} / {s['plan_measured_mb']:.0f}"
                if s.get('plan_measured_mb') else '-')
        fraction = s.get('fraction_of_matmul_peak')
        rows.append(
            f"| {key.replace('_', ', ')} ({date} {s['device']}) | {step} | "
            f"{s['samples_per_s']:.1f} {s['sample_unit']}s | {memory} | {plan} | "
            f"{s['gflops_per_s']:.0f} ({fraction if fraction is not None else '-'} of "
            f"{s.get('matmul_peak_dtype')} peak) |")
    return rows


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Merge the gpu_check outputs')
    parser.add_argument('parts', help='folder with the pieces')
    parser.add_argument('--out', default=None, help='write the record here (JSON)')
    parser.add_argument('--date', default='', help='date shown in the README rows')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    record = collect(args.parts)
    if not record['bench']:
        raise SystemExit(f'{args.parts}: no bench_*.json pieces')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(record, f, indent=1)
    print('\n'.join(readme_rows(record, args.date)))
    return record


if __name__ == '__main__':
    main(sys.argv[1:])
