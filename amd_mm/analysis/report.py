"""The study's report: aggregation over seeds, tables (``results.json``, ``results.md``)
and pictures (accuracy bars with the seeds as dots, loss curves).

``plan`` describes the study per modality (see ``tools/study.py``)::

    {'video': {'baseline': 'mae', 'chance': 1 / 8,
               'arms': {'amd': {'label': 'AMD', 'ablation': False, 'describe': {...}}, ...},
               'controls': {'shuffled': {'label': 'frame-shuffled', 'ceiling': 0.5}, ...}}}

and ``claims`` the comparisons of arms that the paper makes, as
``(modality, claim, arm_a, arm_b)``. ``done`` maps job names (``<modality>_teacher``,
``<modality>_scratch_s<seed>``, ``<modality>_<arm>_s<seed>``,
``<modality>_control_<name>_s<seed>``) to the results of
:func:`amd_mm.analysis.runs.run_job`. Accuracies are fractions in [0, 1]; the Markdown
shows percent.
"""
import json
import os.path as osp
from typing import Dict, List, Sequence

from .stats import paired_difference, summarise, verdict

PROTOCOLS = ('finetune', 'linear_probe')
PROTOCOL_NAMES = {'finetune': 'fine-tune', 'linear_probe': 'linear probe'}
GAP_TARGET = 0.20  # the best pre-trained student should fine-tune >= 20 points above random init


def describe_arm(model: Dict) -> Dict:
    """Teacher mask ratio, alignment branches and aligned layers of a model config."""
    if not model.get('teacher'):
        return dict(teacher_ratio=None, branches='none (no teacher)', layers='-')
    masks = model['mask_generator']
    ratio = float(masks.get('teacher_ratio', 0.75))
    generative = model.get('generator') is not None and model.get('loss_gen') is not None
    symmetric = ratio >= float(masks.get('student_ratio', 0.9))
    names = [n for n, on in (('direct', model.get('loss_dir') is not None),
                             ('generative', generative and not symmetric)) if on]
    branches = ' + '.join(names) or 'none'
    if generative and symmetric:
        branches += ' (generative off: nothing to predict)'
    layers = ', '.join(f'{s}->{t}' for s, t in zip(model['student_layers'], model['teacher_layers']))
    return dict(teacher_ratio=ratio, branches=branches, layers=layers)


def _values(done: Dict, names: Sequence[str], key: str) -> List[float]:
    return [done[n][key] for n in names]


def aggregate(done: Dict, plan: Dict, claims: Sequence, seeds: Sequence[int]) -> Dict:
    """Statistics per modality / arm / protocol, seed-paired differences against the
    baseline, the random initialisation and in the paper's claims, controls, and the
    checks of the video task's targets."""
    out = dict(results={}, references={}, gains={}, vs_scratch={}, controls={}, targets={}, claims=[])
    for modality, spec in plan.items():
        job = lambda arm, s: f'{modality}_{arm}_s{s}'  # noqa: E731
        scratch = [f'{modality}_scratch_s{s}' for s in seeds]
        out['references'][modality] = dict(
            teacher=dict(linear_probe=done[f'{modality}_teacher']['linear_probe']),
            scratch={p: summarise(_values(done, scratch, p)) for p in PROTOCOLS})
        res, gains, vs_scratch = {}, {}, {}
        for arm in spec['arms']:
            names = [job(arm, s) for s in seeds]
            res[arm] = {p: summarise(_values(done, names, p)) for p in PROTOCOLS}
            vs_scratch[arm] = {p: paired_difference(_values(done, names, p), _values(done, scratch, p))
                               for p in PROTOCOLS}
            if arm != spec['baseline']:
                base = [job(spec['baseline'], s) for s in seeds]
                gains[arm] = {p: paired_difference(_values(done, names, p), _values(done, base, p))
                              for p in PROTOCOLS}
        out['results'][modality], out['gains'][modality] = res, gains
        out['vs_scratch'][modality] = vs_scratch
        controls = {}
        for name, control in spec.get('controls', {}).items():
            values = _values(done, [f'{modality}_control_{name}_s{s}' for s in seeds], 'finetune')
            controls[name] = dict(finetune=summarise(values), ceiling=control.get('ceiling'))
        if controls:
            out['controls'][modality] = controls
        if spec.get('chance') is not None:
            best = max(spec['arms'], key=lambda a: res[a]['finetune']['mean'])
            gap = res[best]['finetune']['mean'] - out['references'][modality]['scratch']['finetune']['mean']
            out['targets'][modality] = dict(
                chance=spec['chance'], best_arm=best, best_finetune=res[best]['finetune']['mean'],
                scratch_finetune=out['references'][modality]['scratch']['finetune']['mean'],
                gap=gap, gap_target=GAP_TARGET, gap_met=bool(gap >= GAP_TARGET),
                controls={n: c['finetune']['mean'] for n, c in controls.items()})
    for modality, claim, a, b in claims:
        if modality not in plan or not {a, b} <= set(plan[modality]['arms']):
            continue  # a pilot without these arms
        diffs = {p: paired_difference(_values(done, [f'{modality}_{a}_s{s}' for s in seeds], p),
                                      _values(done, [f'{modality}_{b}_s{s}' for s in seeds], p))
                 for p in PROTOCOLS}
        out['claims'].append(dict(modality=modality, claim=claim, a=a, b=b, **diffs,
                                  reading={p: verdict(diffs[p], 'agrees', 'disagrees') for p in PROTOCOLS}))
    return out


# -- Markdown ----------------------------------------------------------------------
def _pct(stat: Dict) -> str:
    return f'{100 * stat["mean"]:.1f} ± {100 * stat["std"]:.1f}'


def _cell(stat: Dict) -> str:
    return f'{_pct(stat)} [{", ".join(f"{100 * v:.1f}" for v in stat["values"])}]'


def _diff(stat: Dict) -> str:
    return f'{100 * stat["mean"]:+.1f} ± {100 * stat["std"]:.1f} ({stat["wins"]}/{stat["n"]})'


def markdown(summary: Dict, plan: Dict) -> str:
    seeds = summary['seeds']
    res, refs = summary['results'], summary['references']
    lines = ['# AMD vs. MAE / VideoMAE at toy scale, and AMD ablations', '',
             f'Command: `{summary["command"]}` ({summary["mode"]} mode, seeds {seeds}, '
             f'{summary["wall_s"] / 60:.1f} min wall time and {summary["cpu_s"] / 60:.1f} CPU-min '
             f'on {summary["cpus"]} CPU cores with {summary["workers"]} workers).', '',
             'Top-1 accuracy (%) on the held-out split, mean ± sample std over seeds (per-seed values '
             'in brackets). Same student architecture, data, steps and student masks for every arm '
             'of a seed.', '',
             '## Main comparison', '',
             '| modality | method | fine-tune top-1 (%) | linear-probe top-1 (%) |', '|---|---|---|---|']
    for modality, spec in plan.items():
        for arm, info in spec['arms'].items():
            if not info.get('ablation'):
                ft, lp = (_cell(res[modality][arm][p]) for p in PROTOCOLS)
                lines.append(f'| {modality} | {info["label"]} | {ft} | {lp} |')
        ft, lp = (_cell(refs[modality]['scratch'][p]) for p in PROTOCOLS)
        lines.append(f'| {modality} | reference: random init, no pre-training | {ft} | {lp} |')
        lines.append(f'| {modality} | reference: teacher (seed 0) | - | '
                     f'{100 * refs[modality]["teacher"]["linear_probe"]:.1f} |')
    lines += ['', 'Differences in percentage points, paired by seed (seeds where the first is ahead '
              'in parentheses):', '',
              '| modality | protocol | AMD - baseline | reading | AMD - random init | '
              'baseline - random init |', '|---|---|---|---|---|---|']
    for modality, spec in plan.items():
        base = spec['baseline']
        for p in PROTOCOLS:
            g = summary['gains'][modality]['amd'][p]
            vs = summary['vs_scratch'][modality]
            lines.append(f'| {modality} | {PROTOCOL_NAMES[p]} | {_diff(g)} | '
                         f'{verdict(g, "AMD better", "baseline better")} | {_diff(vs["amd"][p])} | '
                         f'{_diff(vs[base][p])} |')
    for modality, target in summary['targets'].items():
        spec = plan[modality]
        lines += ['', f'## Is the {modality} task temporal?', '',
                  f'Chance is {100 * target["chance"]:.1f}%.', '',
                  '| check | value (%) | target | met |', '|---|---|---|---|',
                  f'| best pre-trained student ({spec["arms"][target["best_arm"]]["label"]}) - random init, '
                  f'fine-tune | {100 * target["gap"]:+.1f} ({100 * target["best_finetune"]:.1f} - '
                  f'{100 * target["scratch_finetune"]:.1f}) | >= {100 * target["gap_target"]:.0f} | '
                  f'{"yes" if target["gap_met"] else "no"} |']
        for name, control in summary['controls'].get(modality, {}).items():
            ceiling = control['ceiling']
            note = f'near chance; order-free ceiling {100 * ceiling:.0f}' if ceiling else 'near chance'
            lines.append(f'| control: {spec["controls"][name]["label"]} (fine-tuned from AMD) | '
                         f'{_cell(control["finetune"])} | {note} | '
                         f'{"yes" if control["finetune"]["mean"] < 1.5 * target["chance"] else "no"} |')
    for modality, spec in plan.items():
        arms = spec['arms']
        if not any(info.get('ablation') for info in arms.values()):
            continue
        lines += ['', f'## Ablations of AMD ({modality})', '',
                  '| arm | teacher mask ratio | alignment | aligned layers (student->teacher) | '
                  'fine-tune top-1 (%) | linear-probe top-1 (%) | fine-tune - baseline | '
                  'probe - baseline |', '|---|---|---|---|---|---|---|---|']
        for arm, info in arms.items():
            d = info['describe']
            ratio = '-' if d['teacher_ratio'] is None else f'{d["teacher_ratio"]:g}'
            gains = summary['gains'][modality].get(arm)
            g = [_diff(gains[p]) if gains else '-' for p in PROTOCOLS]
            ft, lp = (_cell(res[modality][arm][p]) for p in PROTOCOLS)
            lines.append(f'| {info["label"]} | {ratio} | {d["branches"]} | {d["layers"]} | {ft} | {lp} | '
                         f'{g[0]} | {g[1]} |')
    if summary['claims']:
        lines += ['', "## The paper's claims at toy scale", '',
                  'First arm minus second, paired by seed; "agrees" only when the mean exceeds one '
                  'std and every seed agrees.', '',
                  '| claim | comparison | fine-tune | reading | linear probe | reading |',
                  '|---|---|---|---|---|---|']
        for c in summary['claims']:
            arms = plan[c['modality']]['arms']
            lines.append(f'| {c["claim"]} | {arms[c["a"]]["label"]} vs {arms[c["b"]]["label"]} | '
                         f'{_diff(c["finetune"])} | {c["reading"]["finetune"]} | '
                         f'{_diff(c["linear_probe"])} | {c["reading"]["linear_probe"]} |')
    lines += ['', 'Pictures: ' + ', '.join(f'`{p}`' for p in summary['pictures']) + '.', '',
              'Data and settings:', '', '```', json.dumps(summary['settings'], indent=1), '```', '']
    return '\n'.join(lines)


# -- pictures --------------------------------------------------------------------------
def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def bars_with_seeds(ax, groups: Sequence[str], series: Sequence, width: float = 0.8):
    """Grouped bars of means with std error bars and every seed as a dot.

    ``series`` is a list of ``(label, colour, [stat per group or None])`` with stats as
    :func:`~amd_mm.analysis.stats.summarise` returns (fractions; drawn in percent).
    """
    import numpy as np
    x = np.arange(len(groups))
    w = width / len(series)
    for i, (label, color, stats) in enumerate(series):
        pos = x + (i - (len(series) - 1) / 2) * w
        for j, st in enumerate(stats):
            if st is None:
                continue
            ax.bar(pos[j], 100 * st['mean'], w * 0.92, yerr=100 * st['std'], capsize=2, color=color,
                   alpha=0.85, label=label if j == next(k for k, s in enumerate(stats) if s) else None)
            ax.scatter([pos[j]] * len(st['values']), [100 * v for v in st['values']], s=6, color='k',
                       zorder=3)
    ax.set_xticks(x)
    ax.set_xticklabels(groups, fontsize=7)
    ax.set_ylabel('held-out top-1 (%)', fontsize=8)
    ax.set_ylim(0, 119)
    ax.set_yticks(range(0, 101, 20))
    ax.tick_params(labelsize=7)
    ax.grid(axis='y', alpha=0.3)
    return x


def plot_main_accuracy(path: str, summary: Dict, plan: Dict):
    """Main arms and the random initialisation, both protocols, both modalities."""
    plt = _pyplot()
    res, refs = summary['results'], summary['references']
    groups = [(m, p) for m in plan for p in PROTOCOLS]
    fig, ax = plt.subplots(figsize=(7, 3.3), dpi=80)
    series = [('AMD', 'tab:red', [res[m]['amd'][p] for m, p in groups]),
              ('MAE / VideoMAE', 'tab:blue', [res[m][plan[m]['baseline']][p] for m, p in groups]),
              ('random init', '0.75', [refs[m]['scratch'][p] for m, p in groups])]
    x = bars_with_seeds(ax, [f'{m}\n{PROTOCOL_NAMES[p]}' for m, p in groups], series)
    for j, (m, p) in enumerate(groups):
        if p == 'linear_probe':
            t = 100 * refs[m]['teacher']['linear_probe']
            ax.plot([x[j] - 0.4, x[j] + 0.4], [t, t], color='0.3', ls=':', lw=1,
                    label='teacher (probe)' if j == 1 else None)
        if plan[m].get('chance'):
            c = 100 * plan[m]['chance']
            ax.plot([x[j] - 0.4, x[j] + 0.4], [c, c], color='k', ls='--', lw=0.8,
                    label='chance' if (m, p) == groups[-1] else None)
    ax.legend(fontsize=7, loc='upper center', ncol=5, frameon=False)
    ax.set_title(f'mean ± std over {len(summary["seeds"])} seed(s), dots: seeds', fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_ablations(path: str, summary: Dict, plan: Dict, modality: str):
    """Every arm of ``modality`` (ablations included), the random initialisation and the
    controls: fine-tune and linear-probe top-1 side by side."""
    plt = _pyplot()
    spec, res, refs = plan[modality], summary['results'][modality], summary['references'][modality]
    labels = [info['label'] for info in spec['arms'].values()] + ['random init']
    stats = {p: [res[a][p] for a in spec['arms']] + [refs['scratch'][p]] for p in PROTOCOLS}
    controls = summary['controls'].get(modality, {})
    for name, control in controls.items():
        labels.append(f'control:\n{spec["controls"][name]["label"]}')
        stats['finetune'].append(control['finetune'])
        stats['linear_probe'].append(None)
    fig, ax = plt.subplots(figsize=(9, 3.6), dpi=80)
    wrapped = [label.replace(', ', ',\n').replace(' (', '\n(') for label in labels]
    bars_with_seeds(ax, wrapped, [('fine-tune', 'tab:red', stats['finetune']),
                                  ('linear probe', 'tab:blue', stats['linear_probe'])])
    if spec.get('chance'):
        ax.axhline(100 * spec['chance'], color='k', ls='--', lw=0.8, label='chance')
    ax.legend(fontsize=7, loc='upper center', ncol=3, frameon=False)
    ax.set_xticklabels(wrapped, fontsize=6)
    ax.set_title(f'{modality}: AMD ablations, mean ± std over {len(summary["seeds"])} seed(s), '
                 'dots: seeds', fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_losses(path: str, runs: Dict[str, List[Dict]], title: str, colors: Dict[str, str]):
    """Pixel loss (left, y clipped at twice the median) and alignment losses (right) of
    ``runs``: ``{label: [loss rows of one or more seeds]}``; the first run of a label is
    labelled in the legend, ``loss_dir`` solid and ``loss_gen`` dashed."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.3), dpi=80)
    rec_all = []
    for label, seeds_rows in runs.items():
        for i, rows in enumerate(seeds_rows):
            rec = [(r['iter'], r['loss_rec']) for r in rows if 'loss_rec' in r]
            rec_all += [v for _, v in rec]
            if rec:
                axes[0].plot(*zip(*rec), color=colors[label], lw=1, alpha=0.8,
                             label=label if i == 0 else None)
            for key, ls in (('loss_dir', '-'), ('loss_gen', '--')):
                pts = [(r['iter'], r[key]) for r in rows if key in r]
                if pts:
                    axes[1].plot(*zip(*pts), color=colors[label], ls=ls, lw=1, alpha=0.8,
                                 label=f'{label}: {key}' if i == 0 else None)
    if rec_all:  # the first iterations' drop would flatten everything else
        axes[0].set_ylim(0.95 * min(rec_all), 2 * sorted(rec_all)[len(rec_all) // 2])
    axes[0].set_title(f'{title}: pixel reconstruction (loss_rec)', fontsize=9)
    axes[1].set_title(f'{title}: feature alignment (loss_dir solid, loss_gen dashed)', fontsize=9)
    for ax in axes:
        ax.set_xlabel('iteration', fontsize=8)
        ax.set_ylabel('loss', fontsize=8)
        ax.tick_params(labelsize=7)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


COLORS = ['tab:red', 'tab:blue', 'tab:green', 'tab:orange', 'tab:purple', 'tab:brown', 'tab:pink',
          'tab:olive', 'tab:cyan']


def write_report(out: str, done: Dict, plan: Dict, claims: Sequence, run_info: Dict) -> Dict:
    """``results.json``, ``results.md`` and the pictures in ``out``; returns the summary."""
    seeds = run_info['seeds']
    plan = {m: plan[m] for m in run_info['modalities']}
    summary = dict(run_info, units='top-1 accuracy as a fraction in [0, 1] (results.md shows percent)',
                   arms={m: {a: dict(info) for a, info in spec['arms'].items()} for m, spec in plan.items()},
                   **aggregate(done, plan, claims, seeds),
                   job_wall_s={n: round(d['wall_s'], 1) for n, d in sorted(done.items())},
                   job_cpu_s={n: round(d.get('cpu_s', 0.0), 1) for n, d in sorted(done.items())})
    pictures = ['accuracy_bars.png']
    plot_main_accuracy(osp.join(out, 'accuracy_bars.png'), summary, plan)
    for modality, spec in plan.items():
        teacher = {f'teacher ({spec["arms"][spec["baseline"]]["label"]})': [done[f'{modality}_teacher']['losses']]}
        main = {info['label']: [done[f'{modality}_{a}_s{s}']['losses'] for s in seeds]
                for a, info in spec['arms'].items() if not info.get('ablation')}
        runs = dict(teacher, **main)
        colors = dict(zip(runs, ['0.5'] + COLORS))
        plot_losses(osp.join(out, f'loss_curves_{modality}.png'), runs, modality, colors)
        pictures.append(f'loss_curves_{modality}.png')
        if any(info.get('ablation') for info in spec['arms'].values()):
            plot_ablations(osp.join(out, f'ablations_{modality}.png'), summary, plan, modality)
            arms = {info['label']: [done[f'{modality}_{a}_s{s}']['losses'] for s in seeds]
                    for a, info in spec['arms'].items() if a != spec['baseline']}
            plot_losses(osp.join(out, f'loss_curves_{modality}_ablations.png'), arms,
                        f'{modality} ablations', dict(zip(arms, COLORS)))
            pictures += [f'ablations_{modality}.png', f'loss_curves_{modality}_ablations.png']
        pictures.append(f'masks_{modality}.png')
    summary['pictures'] = pictures
    with open(osp.join(out, 'results.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    with open(osp.join(out, 'results.md'), 'w') as f:
        f.write(markdown(summary, plan))
    return summary
