"""The study's report: per-seed values, the comparisons fixed before the run with their
statistics (:mod:`amd_mm.analysis.stats`), tables (``results.json``, ``results.md``) and
pictures (per-seed dots with intervals, learning and loss curves).

``plan`` describes the study per modality (see ``tools/study.py``)::

    {'video': {'baseline': 'videomae', 'chance': 1 / 8, 'finetune': ['amd', 'videomae'],
               'arms': {'amd': {'label': 'AMD', 'describe': {...}}, ...}}}

``comparisons`` are ``(modality, question, a, b)``: the seed-paired difference ``a - b``
where ``a`` / ``b`` is an arm or a reference (``'scratch'``: the student at its random
initialisation; ``'teacher'`` and ``'untrained_teacher'``: the teacher's architecture
trained and at its initialisation; ``'pixels'``: the raw pixels). ``done`` maps job names
(``<modality>_pixels``, ``<modality>_teacher``, ``<modality>_untrained_teacher``,
``<modality>_scratch_s<seed>``, ``<modality>_<arm>_s<seed>``; a modality without a teacher
has no teacher jobs) to the results of :func:`amd_mm.analysis.runs.run_job`.
Accuracies are fractions in [0, 1]; the Markdown shows percent, differences in points.
"""
import json
import os.path as osp
from typing import Dict, List, Sequence

import numpy as np

from .stats import ALPHA, compare_family, summarise

REFERENCES = {'scratch': 'random init (no pre-training)', 'teacher': 'teacher',
              'untrained_teacher': "teacher's architecture, untrained", 'pixels': 'raw pixels'}


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


def seed_values(done: Dict, modality: str, who: str, seeds: Sequence[int], metric: str = 'probe'
                ) -> List[float]:
    """Per-seed values of an arm or a reference (see the module docstring)."""
    if who in REFERENCES and who != 'scratch':  # one job, scored for every seed
        job = done[f'{modality}_{who}']
        return [job['pixels' if who == 'pixels' else metric][str(s)] for s in seeds]
    jobs = [done[f'{modality}_{who}_s{s}'] for s in seeds]
    if metric == 'probe':
        return [job['probe'][str(s)] for job, s in zip(jobs, seeds)]
    return [job[metric] for job in jobs]


def label(plan: Dict, modality: str, who: str) -> str:
    return plan[modality]['arms'][who]['label'] if who in plan[modality]['arms'] else REFERENCES[who]


def _family(done, plan, comparisons, seeds, metric):
    """The comparisons whose two sides were run, as one family; ``seeds(modality)``:
    the seeds the metric has in that modality."""
    pairs, meta = {}, {}
    for modality, question, a, b in comparisons:
        present = plan.get(modality, {}).get('arms', {})
        if modality not in plan or not all(w in present or w in REFERENCES for w in (a, b)) \
                or len(seeds(modality)) < 2 or ({a, b} & {'teacher', 'untrained_teacher'}
                                                and not plan[modality].get('teacher')):
            continue  # a pilot without these arms
        name = f'{modality}: {question}'
        pairs[name] = (seed_values(done, modality, a, seeds(modality), metric),
                       seed_values(done, modality, b, seeds(modality), metric))
        meta[name] = dict(modality=modality, question=question, a=a, b=b)
    if not pairs:
        return []
    family = compare_family(pairs, alpha=ALPHA)
    return [dict(meta[name], **stat) for name, stat in family.items()]


def mean_curve(curves: Sequence[List[List[float]]]) -> Dict:
    """Epochs and per-epoch mean / min / max of several ``[[epoch, top-1], ...]``."""
    epochs = [e for e, _ in curves[0]]
    values = np.array([[v for _, v in c] for c in curves])
    return dict(epochs=epochs, mean=values.mean(0).tolist(), low=values.min(0).tolist(),
                high=values.max(0).tolist())


def aggregate(done: Dict, plan: Dict, comparisons: Sequence, finetune_comparisons: Sequence,
              seeds: Sequence[int]) -> Dict:
    """Per modality the primary metric of every arm and reference, the fine-tuning of
    the fine-tuned arms with their learning curves, the teacher's control probes, and
    the two families of comparisons."""
    out = dict(results={}, finetune={}, curves={}, controls={})
    for modality, spec in plan.items():
        who = list(spec['arms']) + ['scratch', 'pixels'] + (
            ['teacher', 'untrained_teacher'] if spec.get('teacher') else [])
        out['results'][modality] = {w: summarise(seed_values(done, modality, w, seeds)) for w in who}
        tuned = [w for w in spec.get('finetune', ()) if w in spec['arms']] + ['scratch']
        tuned_seeds = spec['finetune_seeds']
        if tuned_seeds:
            out['finetune'][modality] = {w: summarise(seed_values(done, modality, w, tuned_seeds, 'finetune'))
                                         for w in tuned}
            out['curves'][modality] = {w: mean_curve([done[f'{modality}_{w}_s{s}']['finetune_curve']
                                                      for s in tuned_seeds]) for w in tuned}
        teacher = done.get(f'{modality}_teacher', {})
        out['controls'][modality] = {k[len('control_'):]: teacher[k][str(seeds[0])]
                                     for k in sorted(teacher) if k.startswith('control_')
                                     and not k.endswith('_details')}
    out['comparisons'] = _family(done, plan, comparisons, lambda m: seeds, 'probe')
    out['finetune_comparisons'] = _family(done, plan, finetune_comparisons,
                                          lambda m: plan[m]['finetune_seeds'], 'finetune')
    return out


# -- Markdown ----------------------------------------------------------------------
def _pct(stat: Dict) -> str:
    return f'{100 * stat["mean"]:.1f} ± {100 * stat["std"]:.1f}'


def _cell(stat: Dict) -> str:
    return f'{_pct(stat)} [{", ".join(f"{100 * v:.1f}" for v in stat["values"])}]'


def _interval(ci: Sequence[float]) -> str:
    return f'[{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]'


def comparison_rows(comparisons: Sequence[Dict], plan: Dict) -> List[str]:
    rows = ['| modality | question | A - B (points) | 95% interval | corrected interval | '
            't (df) | p | Holm p | MDE (points) | A ahead | resolved |',
            '|---|---|---|---|---|---|---|---|---|---|---|']
    for c in comparisons:
        m = c['modality']
        rows.append(
            f'| {m} | {c["question"]} ({label(plan, m, c["a"])} - {label(plan, m, c["b"])}) | '
            f'{100 * c["mean"]:+.1f} ± {100 * c["std"]:.1f} | {_interval(c["ci"])} | '
            f'{_interval(c["ci_corrected"])} | {c["t"]:.2f} ({c["df"]}) | {c["p"]:.2g} | '
            f'{c["p_holm"]:.2g} | {100 * c["mde"]:.1f} | {c["wins"]}/{c["n"]} | '
            f'{"**yes**" if c["resolved"] else "no"} |')
    return rows


def markdown(summary: Dict, plan: Dict) -> str:
    seeds = summary['seeds']
    commit = summary.get('commit') or 'unknown'
    lines = ['# AMD vs. MAE / VideoMAE at toy scale: the arms that tell asymmetry from distillation', '',
             f'Command: `{summary["command"]}` ({summary["mode"]} mode, seeds {seeds}, commit {commit}; '
             f'{summary["wall_s"] / 60:.1f} min wall time and {summary["cpu_s"] / 60:.1f} CPU-min on '
             f'{summary["cpus"]} CPU cores with {summary["workers"]} workers).', '',
             'Held-out top-1 (%) of the frozen probe (the primary metric), mean ± sample std over '
             'seeds, per-seed values in brackets. Same student architecture, data, steps and student '
             'masks for every arm of a seed; the teacher (seed 100) and the untrained teacher '
             '(seed 101) are shared by the seeds.', '',
             '## Primary metric: frozen probe', '',
             '| modality | encoder | teacher ratio | alignment | layers | probe top-1 (%) |',
             '|---|---|---|---|---|---|']
    for modality, spec in plan.items():
        res = summary['results'][modality]
        for arm, info in spec['arms'].items():
            d = info['describe']
            ratio = '-' if d['teacher_ratio'] is None else f'{d["teacher_ratio"]:g}'
            lines.append(f'| {modality} | {info["label"]} | {ratio} | {d["branches"]} | {d["layers"]} | '
                         f'{_cell(res[arm])} |')
        for ref, name in ((r, n) for r, n in REFERENCES.items() if r in res):
            lines.append(f'| {modality} | reference: {name} | - | - | - | {_cell(res[ref])} |')
    chance = ', '.join(f'{m} {100 * s["chance"]:.1f}%' for m, s in plan.items())
    lines += ['', f'Chance: {chance}.', '']
    if summary['comparisons']:
        c0 = summary['comparisons'][0]
        lines += ['## Comparisons fixed before the run', '',
                  f'A - B paired by seed; 95% seed-bootstrap interval; the corrected interval is the '
                  f'bootstrap interval at level {100 * c0["corrected_level"]:.2f}% (Bonferroni over the '
                  f'{c0["family_size"]} comparisons); paired two-sided t-test, Holm-adjusted over the '
                  'family; MDE: the smallest true difference a paired t-test at the corrected level '
                  f'detects with 80% power at n = {c0["n"]} and the observed spread. **Resolved**: the '
                  'corrected interval excludes 0 and Holm p < 0.05.', '']
        lines += comparison_rows(summary['comparisons'], plan)
        lines.append('')
    lines += ['## Secondary metric: fine-tuning', '',
              'Held-out top-1 (%) after the last epoch (no model selection), seeds ' +
              '; '.join(f'{m} {spec["finetune_seeds"]}' for m, spec in plan.items()) + '.', '',
              '| modality | initialisation | fine-tune top-1 (%) |', '|---|---|---|']
    for modality in summary['finetune']:
        for who, stat in summary['finetune'][modality].items():
            lines.append(f'| {modality} | {label(plan, modality, who)} | {_cell(stat)} |')
    if summary['finetune_comparisons']:
        lines += ['', 'Fine-tuning comparisons (their own Holm family):', '']
        lines += comparison_rows(summary['finetune_comparisons'], plan)
    controls = {m: c for m, c in summary['controls'].items() if c}
    if controls:
        lines += ['', '## Temporal controls of the probe (the teacher)', '',
                  '| modality | clips | probe top-1 (%) |', '|---|---|---|']
        for modality, values in controls.items():
            lines.append(f'| {modality} | as they are | {100 * summary["results"][modality]["teacher"]["mean"]:.1f} |')
            for name, value in values.items():
                what = {'shuffle': 'frames in a random order', 'single': 'one frame repeated'}.get(name, name)
                lines.append(f'| {modality} | {what} | {100 * value:.1f} |')
    lines += ['', 'Pictures: ' + ', '.join(f'`{p}`' for p in summary['pictures']) + '.', '',
              'Data and settings:', '', '```', json.dumps(summary['settings'], indent=1), '```', '']
    return '\n'.join(lines)


# -- pictures --------------------------------------------------------------------------
def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def plot_probe(path: str, summary: Dict, plan: Dict):
    """Per modality, every arm and reference: each seed a dot, the mean with its 95%
    seed-bootstrap interval."""
    from .stats import bootstrap_interval
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(plan), figsize=(4.6 * len(plan), 3.6), dpi=80, squeeze=False)
    for ax, (modality, spec) in zip(axes[0], plan.items()):
        res = summary['results'][modality]
        who = list(spec['arms']) + [r for r in REFERENCES if r in res]
        for i, w in enumerate(who):
            values = 100 * np.asarray(res[w]['values'])
            jitter = np.linspace(-0.15, 0.15, len(values))
            color = 'tab:red' if w == 'amd' else ('0.55' if w in REFERENCES else 'tab:blue')
            ax.scatter(i + jitter, values, s=8, color=color, alpha=0.7, zorder=3)
            if len(values) > 1 and np.ptp(values) > 0:
                low, high = bootstrap_interval(values)
                ax.errorbar(i, values.mean(), yerr=[[values.mean() - low], [high - values.mean()]],
                            fmt='_', color='k', markersize=14, capsize=3, zorder=4)
            else:
                ax.plot([i - 0.25, i + 0.25], [values.mean()] * 2, color='k', zorder=4)
        ax.axhline(100 * spec['chance'], color='k', ls='--', lw=0.8)
        ax.set_xticks(range(len(who)))
        ax.set_xticklabels([label(plan, modality, w).replace(' (', '\n(').replace(', ', ',\n')
                            for w in who], fontsize=6, rotation=90)
        ax.set_ylabel('probe top-1 (%)', fontsize=8)
        ax.set_title(f'{modality}: frozen probe, dots: seeds, bars: 95% interval', fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(axis='y', alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_comparisons(path: str, comparisons: Sequence[Dict], plan: Dict, title: str):
    """Forest plot: per comparison the per-seed differences (dots), the mean, the 95%
    interval (thick) and the corrected interval (thin); resolved ones in red."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(comparisons) + 1.2), dpi=80)
    for i, c in enumerate(comparisons):
        y = len(comparisons) - 1 - i
        color = 'tab:red' if c['resolved'] else '0.35'
        ax.plot([100 * v for v in c['ci_corrected']], [y, y], color=color, lw=1)
        ax.plot([100 * v for v in c['ci']], [y, y], color=color, lw=3.5, alpha=0.7)
        ax.scatter([100 * v for v in c['values']], [y + 0.22] * c['n'], s=6, color='k', alpha=0.6)
        ax.scatter([100 * c['mean']], [y], color=color, s=18, zorder=4)
    ax.axvline(0, color='k', lw=0.8)
    ax.set_yticks(range(len(comparisons)))
    ax.set_yticklabels([f'{c["modality"]}: {c["question"]}' for c in comparisons][::-1], fontsize=7)
    ax.set_xlabel('A - B, points (dots: seeds; thick: 95% interval; thin: corrected interval)',
                  fontsize=7)
    ax.set_title(title, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(axis='x', alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_curves(path: str, summary: Dict, plan: Dict):
    """Fine-tuning learning curves: held-out top-1 after every epoch, mean over seeds
    and the range."""
    plt = _pyplot()
    tuned = [m for m in plan if summary['curves'].get(m)]
    fig, axes = plt.subplots(1, len(tuned), figsize=(4.2 * len(tuned), 3.0), dpi=80, squeeze=False)
    colors = {'amd': 'tab:red', 'scratch': '0.5'}
    for ax, modality in zip(axes[0], tuned):
        for who, curve in summary['curves'][modality].items():
            color = colors.get(who, 'tab:blue')
            pct = lambda v: [100 * x for x in v]  # noqa: E731
            ax.plot(curve['epochs'], pct(curve['mean']), color=color, label=label(plan, modality, who))
            ax.fill_between(curve['epochs'], pct(curve['low']), pct(curve['high']), color=color, alpha=0.15)
        ax.axhline(100 * plan[modality]['chance'], color='k', ls='--', lw=0.8)
        ax.set_xlabel('fine-tuning epoch', fontsize=8)
        ax.set_ylabel('held-out top-1 (%)', fontsize=8)
        ax.set_title(f'{modality}: fine-tuning, mean and range over seeds', fontsize=8)
        ax.legend(fontsize=6)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_losses(path: str, runs: Dict[str, List[List[Dict]]], title: str, colors: Dict[str, str]):
    """Pixel loss (left) and alignment losses (right) of ``runs``: ``{label: [loss rows of
    one or more seeds]}``; the first run of a label is labelled in the legend,
    ``loss_dir`` solid and ``loss_gen`` dashed."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.3), dpi=80)
    rec_all = []
    for name, seeds_rows in runs.items():
        for i, rows in enumerate(seeds_rows):
            rec = [(r['iter'], r['loss_rec']) for r in rows if 'loss_rec' in r]
            rec_all += [v for _, v in rec]
            if rec:
                axes[0].plot(*zip(*rec), color=colors[name], lw=1, alpha=0.8,
                             label=name if i == 0 else None)
            for key, ls in (('loss_dir', '-'), ('loss_gen', '--')):
                pts = [(r['iter'], r[key]) for r in rows if key in r]
                if pts:
                    axes[1].plot(*zip(*pts), color=colors[name], ls=ls, lw=1, alpha=0.8,
                                 label=f'{name}: {key}' if i == 0 else None)
    if rec_all:  # the first iterations' drop would flatten everything else
        axes[0].set_ylim(0.95 * min(rec_all), 1.5 * sorted(rec_all)[len(rec_all) // 2])
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


def write_report(out: str, done: Dict, plan: Dict, comparisons: Sequence,
                 finetune_comparisons: Sequence, run_info: Dict) -> Dict:
    """``results.json``, ``results.md`` and the pictures in ``out``; returns the summary."""
    seeds = run_info['seeds']
    plan = {m: plan[m] for m in run_info['modalities']}
    summary = dict(run_info, units='top-1 accuracy as a fraction in [0, 1] (results.md shows percent)',
                   arms={m: {a: dict(info) for a, info in spec['arms'].items()} for m, spec in plan.items()},
                   **aggregate(done, plan, comparisons, finetune_comparisons, seeds),
                   job_wall_s={n: round(d['wall_s'], 1) for n, d in sorted(done.items())},
                   job_cpu_s={n: round(d.get('cpu_s', 0.0), 1) for n, d in sorted(done.items())})
    pictures = ['probe.png']
    plot_probe(osp.join(out, 'probe.png'), summary, plan)
    for key, name, title in (('comparisons', 'comparisons.png', 'primary metric (frozen probe)'),
                             ('finetune_comparisons', 'finetune_comparisons.png', 'fine-tuning')):
        if summary[key]:
            plot_comparisons(osp.join(out, name), summary[key], plan, title)
            pictures.append(name)
    if any(summary['curves'].values()):
        plot_curves(osp.join(out, 'finetune_curves.png'), summary, plan)
        pictures.append('finetune_curves.png')
    for modality, spec in plan.items():
        runs = {'teacher': [done[f'{modality}_teacher']['losses']]} if spec.get('teacher') else {}
        runs.update({info['label']: [done[f'{modality}_{a}_s{s}']['losses'] for s in seeds]
                     for a, info in spec['arms'].items()})
        plot_losses(osp.join(out, f'loss_curves_{modality}.png'), runs, modality,
                    dict(zip(runs, (['0.5'] if spec.get('teacher') else []) + COLORS)))
        pictures.append(f'loss_curves_{modality}.png')
        if osp.isfile(osp.join(out, f'masks_{modality}.png')):
            pictures.append(f'masks_{modality}.png')
    summary['pictures'] = pictures
    with open(osp.join(out, 'results.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    with open(osp.join(out, 'results.md'), 'w') as f:
        f.write(markdown(summary, plan))
    return summary
