"""docs/RECIPES.md cannot drift: every setting a table states is checked against what the
config builds (format: /docs/RECIPES.md, top).

A section is ``## <experiment>``, a line ``Config: `<path>` `` and one table
``| setting | official (8d2ec6f) | amd_mm | verdict |``. An ``amd_mm`` cell is
``; ``-separated parts, each one of

* `` `KEY.PATH` = `LITERAL` ``: the value in the config (mmengine ``Config.fromfile``,
  ``ast.literal_eval``, floats with rel 1e-9). A key the config leaves out takes the
  default of the constructor of the registered ``type`` of the dict that would hold it
  (``model.backbone.drop_path_rate`` of a ViT that sets none: mmaction2's 0.0), so a
  stated default turns red as soon as a config sets another value;
* `` `KEY.PATH` unset ``: the config has no such key (or None): no ``clip_grad``, no
  ``Flip`` step, no ``EMAHook``;
* `` `built:PROBE` = `LITERAL` `` or `` `built:PROBE(SUBMODULE)` = `LITERAL` ``: a property
  of the model the config builds and of the optimizer groups its ``optim_wrapper`` builds
  (:data:`PROBES`);
* ``code: ...`` or ``fact: ...``: not a config setting (what code does, the test that checks
  it named; launch commands, arithmetic). Any other text fails: a setting is checked or
  marked as no setting.

Paths: dotted keys, ``[3]`` list index, ``[type=Name]`` the first element of that type,
``[*]`` every element (``pipeline[*].type``: the types in order).
"""
import ast
import functools
import inspect
import math
import os.path as osp
import re

import pytest
import torch.nn as nn
from mmengine.config import Config

from conftest import ROOT

DOC = osp.join(ROOT, 'docs', 'RECIPES.md')
HEADER = ['setting', 'official (8d2ec6f)', 'amd_mm', 'verdict']
VALUE = re.compile(r'^`([^`]+)` = `([^`]+)`$')
UNSET = re.compile(r'^`([^`]+)` unset$')
PROBE = re.compile(r'^built:(\w+)(?:\(([\w.]*)\))?$')
NOTE = re.compile(r'^(code|fact): \S')
PATH_TOKEN = re.compile(
    r'\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[([A-Za-z_][A-Za-z0-9_]*)=([^\]]+)\]|\[(\*)\]')
SOURCE = re.compile(r'`?[\w./-]+\.(py|sh|md):\d+(-\d+)?')


def split_outside_code(text: str, sep: str):
    """Split ``text`` on ``sep`` where it is not inside a `code` span."""
    parts, current, in_code, i = [], '', False, 0
    while i < len(text):
        if text[i] == '`':
            in_code = not in_code
        if not in_code and text.startswith(sep, i):
            parts.append(current)
            current, i = '', i + len(sep)
            continue
        current += text[i]
        i += 1
    parts.append(current)
    return parts


def parse_sections(text: str):
    """``[(title, config, [row dicts])]`` of every ``## `` section."""
    sections = []
    for chunk in re.split(r'^## ', text, flags=re.M)[1:]:
        lines = chunk.splitlines()
        title = lines[0].strip()
        config = next((m.group(1) for line in lines
                       for m in [re.match(r'^Config: `([^`]+)`\s*$', line)] if m), None)
        table = [line.strip() for line in lines if line.strip().startswith('|')]
        rows = []
        if len(table) >= 2:
            header = [c.strip() for c in split_outside_code(table[0].strip('|'), '|')]
            for line in table[2:]:
                cells = [c.strip() for c in split_outside_code(line.strip('|'), '|')]
                rows.append(dict(zip(header, cells), _cells=len(cells), _header=header))
        sections.append((title, config, rows))
    return sections


def parse_cell(cell: str):
    """The parts of an ``amd_mm`` cell: ``[(kind, key, literal)]`` with kind ``'value'``,
    ``'unset'``, ``'built'`` (key ``(probe, submodule)``) or ``'note'``; any other part
    raises ValueError (a setting must be checked or marked as no setting)."""
    out = []
    for part in split_outside_code(cell, '; '):
        part = part.strip()
        value, unset = VALUE.match(part), UNSET.match(part)
        if value and value.group(1).startswith('built:'):
            probe = PROBE.match(value.group(1))
            if not probe or probe.group(1) not in PROBES:
                raise ValueError(f'{part!r}: no such probe (known: {sorted(PROBES)})')
            out.append(('built', (probe.group(1), probe.group(2) or ''), value.group(2)))
        elif value:
            out.append(('value', value.group(1), value.group(2)))
        elif unset:
            out.append(('unset', unset.group(1), None))
        elif NOTE.match(part):
            out.append(('note', part, None))
        elif re.match(r'^`[^`]+` (=|unset)', part):
            raise ValueError(f'{part!r}: a checked part is exactly `KEY.PATH` = `LITERAL` or '
                             '`KEY.PATH` unset; put other text in its own "; "-separated part')
        else:
            raise ValueError(f'{part!r}: neither a checked part nor marked "code:" / "fact:" '
                             '(not a config setting)')
    return out


# -- the config side ---------------------------------------------------------------------
class Missing(KeyError):
    """The path names nothing in the config (and, with defaults, no constructor default)."""


def registered_class(type_name: str, scope: str):
    """The class (or function) a config ``type`` builds: the registries of ``scope`` (or
    of a ``scope.Name`` prefix), which fall back to MMEngine's."""
    import importlib
    import amd_mm  # noqa: F401  (registers amd_mm's classes; the toolboxes' import fixes)
    if '.' in type_name:
        scope, type_name = type_name.split('.', 1)
    registries = importlib.import_module(f'{scope}.registry')
    for name in ('MODELS', 'TRANSFORMS', 'OPTIMIZERS', 'OPTIM_WRAPPERS',
                 'OPTIM_WRAPPER_CONSTRUCTORS', 'PARAM_SCHEDULERS', 'HOOKS', 'DATASETS',
                 'DATA_SAMPLERS', 'LOOPS', 'METRICS'):
        registry = getattr(registries, name, None)
        found = registry.get(type_name) if registry is not None else None
        if found is not None:
            return found
    return None


def constructor_default(type_name: str, key: str, scope: str):
    """The default of argument ``key`` of the constructor of ``type_name``, following the
    ``**kwargs`` of subclasses to the first base that declares it."""
    cls = registered_class(type_name, scope)
    if cls is None:
        raise Missing(f'{type_name} is in no registry')
    for owner in (inspect.getmro(cls) if inspect.isclass(cls) else [cls]):
        init = owner.__dict__.get('__init__') if inspect.isclass(cls) else owner
        if init is None:
            continue
        params = inspect.signature(init).parameters
        if key in params:
            if params[key].default is inspect.Parameter.empty:
                raise Missing(f'{type_name}.{key} has no default')
            return params[key].default
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            break
    raise Missing(f'{type_name} takes no argument {key!r}')


def resolve(value, path: str, scope: str = 'mmaction', defaults: bool = True):
    """``a.b[2].c[type=Name].d[*].e`` in a config (see the module docstring)."""
    if isinstance(value, Config):
        value = value.to_dict()
    pos = 0
    while pos < len(path):
        m = PATH_TOKEN.match(path, pos)
        if not m or m.end() == pos:
            raise KeyError(f'cannot parse {path!r} at {path[pos:]!r}')
        pos = m.end()
        name, index, key, wanted, star = m.groups()
        if star:
            if not isinstance(value, (list, tuple)):
                raise Missing(f'{path!r}: [*] of a {type(value).__name__}')
            return [resolve(v, path[pos:], scope, defaults) for v in value]
        if name is not None:
            if isinstance(value, dict) and name in value:
                value = value[name]
            elif defaults and isinstance(value, dict) and isinstance(value.get('type'), str):
                value = constructor_default(value['type'], name, value.get('_scope_', scope))
            else:
                raise Missing(f'{path!r}: no key {name!r}')
        elif index is not None:
            if not isinstance(value, (list, tuple)) or int(index) >= len(value):
                raise Missing(f'{path!r}: no element {index}')
            value = value[int(index)]
        else:
            matches = [v for v in (value if isinstance(value, (list, tuple)) else [])
                       if isinstance(v, dict) and str(v.get(key)) == wanted]
            if not matches:
                raise Missing(f'{path!r}: no element with {key}={wanted}')
            value = matches[0]
    return value


def same(actual, expected) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return math.isclose(actual, expected, rel_tol=1e-9, abs_tol=0.0)
    if isinstance(expected, (list, tuple)) and isinstance(actual, (list, tuple)):
        return len(actual) == len(expected) and all(same(a, e) for a, e in zip(actual, expected))
    if isinstance(expected, dict) and isinstance(actual, dict):
        return actual.keys() == expected.keys() and all(same(actual[k], expected[k]) for k in expected)
    return actual == expected


# -- the built side: probes of the model and the optimizer groups ---------------------------
def _trainable(model):
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


def probe_no_decay(built, sub):
    """``['1-D', names...]``: the trainable parameters the optimizer groups give weight
    decay 0 are exactly every 1-D one plus those whose last name is listed; every other
    one gets the optimizer's weight decay (else an entry saying which does not)."""
    model, optimizer = built['model'], built['optimizer']
    decay = {id(p): g['weight_decay'] for g in optimizer.param_groups for p in g['params']}
    base = optimizer.defaults['weight_decay']
    out, names = [], set()
    flat = [n for n, p in _trainable(model) if p.ndim <= 1]
    bad_flat = [n for n, p in _trainable(model) if p.ndim <= 1 and decay[id(p)] != 0.0]
    out.append('1-D' if flat and not bad_flat else f'1-D decayed: {bad_flat[:1]}')
    for name, param in _trainable(model):
        if param.ndim > 1 and decay[id(param)] == 0.0:
            names.add(name.rsplit('.', 1)[-1])
        elif param.ndim > 1 and decay[id(param)] != base:
            out.append(f'weight decay {decay[id(param)]} on {name}')
    return out + sorted(names)


def probe_layer_lr(built, sub):
    """``(groups, ratio)``: the distinct learning rates of the optimizer groups form a
    geometric series with this ratio, whose top is the configured lr."""
    optimizer = built['optimizer']
    lrs = sorted({round(g['lr'], 15) for g in optimizer.param_groups if g['params']}, reverse=True)
    top = optimizer.defaults['lr']
    assert math.isclose(lrs[0], top, rel_tol=1e-9), (lrs[0], top)
    ratios = [b / a for a, b in zip(lrs, lrs[1:])]
    assert all(math.isclose(r, ratios[0], rel_tol=1e-6) for r in ratios), ratios
    return (len(lrs), round(ratios[0], 9) if ratios else 1.0)


def _modules(built, sub):
    module = built['model']
    for name in filter(None, sub.split('.')):
        module = getattr(module, name)
    return module.modules()


def probe_drop_path(built, sub):
    """The highest drop-path probability of any block of the model (or submodule)."""
    return round(max([float(m.drop_prob) for m in _modules(built, sub)
                      if type(m).__name__ == 'DropPath'] + [0.0]), 6)  # float32 rates


def probe_dropout(built, sub):
    """The highest dropout probability of any ``nn.Dropout`` of the model (or submodule)."""
    return round(max([float(m.p) for m in _modules(built, sub)
                      if isinstance(m, nn.Dropout)] + [0.0]), 6)


def probe_generators(built, sub):
    """``[(width, heads, blocks)]`` of every feature generator of the model."""
    return [(g.embed_dims, g.blocks[0].num_heads, len(g.blocks)) for g in _modules(built, sub)
            if type(g).__name__ == 'FeatureGenerator']


PROBES = dict(no_decay=probe_no_decay, layer_lr=probe_layer_lr, drop_path=probe_drop_path,
              dropout=probe_dropout, generators=probe_generators)


@functools.lru_cache(maxsize=None)
def load(config: str) -> Config:
    return Config.fromfile(osp.join(ROOT, config))


def light_model_cfg(cfg: Config):
    """The model config to build for the probes: no checkpoints (not here), and a frozen
    teacher of the same width that stops at its aligned layers (depth = their number;
    nothing of it is trained, so the trainable model and its groups are the config's)."""
    model = Config(cfg.model.to_dict())  # a copy
    model.get('backbone', {}).pop('init_cfg', None)
    if model.get('teacher'):
        model.teacher.checkpoint = None
        depth = len(model.teacher_layers)
        backbone = model.teacher.backbone
        if 'arch' in backbone:
            backbone.arch = dict(backbone.arch, num_layers=depth)
        else:
            backbone.depth = depth
        model.teacher_layers = list(range(1, depth + 1))
    return model


_BUILT = {}


def built(config: str):
    """The model and optimizer of ``config`` (the last one built is kept: the probes of a
    section share one build)."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import MODELS, DefaultScope
    if config not in _BUILT:
        _BUILT.clear()
        cfg = load(config)
        with DefaultScope.overwrite_default_scope(cfg.default_scope):
            model = MODELS.build(light_model_cfg(cfg))
            wrapper = cfg.optim_wrapper.to_dict()
            if wrapper.get('type') == 'AmpOptimWrapper':  # CUDA only: the same groups in fp32
                wrapper['type'] = 'OptimWrapper'
                wrapper.pop('loss_scale', None)
            wrapper['optimizer'] = dict(wrapper['optimizer'], fused=False)
            optimizer = build_optim_wrapper(model, wrapper).optimizer
        _BUILT[config] = dict(model=model, optimizer=optimizer)
    return _BUILT[config]


@pytest.fixture(scope='module', autouse=True)
def _free_the_last_build():
    yield
    _BUILT.clear()


with open(DOC) as f:
    SECTIONS = parse_sections(f.read())


def _checks(rows, kinds):
    for row in rows:
        for kind, key, literal in parse_cell(row['amd_mm']):
            if kind in kinds:
                yield row, kind, key, literal


def test_the_doc_has_the_paper_sections():
    titles = [title for title, _, _ in SECTIONS]
    for needed in ('Pre-train K400, ViT-S', 'Pre-train K400, ViT-B', 'Pre-train SSv2, ViT-S',
                   'Pre-train SSv2, ViT-B', 'Pre-train IN-1K', 'Fine-tune K400, ViT-S',
                   'Fine-tune SSv2, ViT-S', 'Fine-tune UCF101', 'Fine-tune HMDB51',
                   'Fine-tune AVA', 'Fine-tune ImageNet-1K'):
        assert any(t.startswith(needed) for t in titles), needed


@pytest.mark.parametrize('title,config,rows', SECTIONS, ids=[s[0] for s in SECTIONS])
def test_section_matches_its_config(title, config, rows):
    """The table's form, and every `value` / `unset` part against the config."""
    assert config, f'{title}: no "Config: `path`" line'
    assert osp.isfile(osp.join(ROOT, config)), f'{title}: {config} does not exist'
    assert rows, f'{title}: no table'
    cfg = load(config)
    scope = cfg.get('default_scope', 'mmaction')
    for row in rows:
        where = f'{title} / {row.get("setting")!r}'
        assert row['_header'] == HEADER, f'{title}: the table header must be {HEADER}'
        assert row['_cells'] == 4, f'{where}: {row["_cells"]} cells'
        official, verdict = row['official (8d2ec6f)'], row['verdict']
        assert official and (SOURCE.search(official) or re.search(r'\bpaper\b|not published', official)), \
            f'{where}: the official cell needs a file:line source, "paper" or "not published"'
        assert re.match(r'^(equal$|equal[ :(]|equivalent: .+|differs on purpose: .+)', verdict), \
            f'{where}: verdict {verdict!r} is not equal / equivalent: why / differs on purpose: why'
        try:
            parts = parse_cell(row['amd_mm'])
        except ValueError as err:
            raise AssertionError(f'{where}: {err}') from None
        assert parts, f'{where}: empty amd_mm cell'
    wrong = []  # every drifted setting of the section, not only the first
    for row, kind, path, literal in _checks(rows, ('value', 'unset')):
        where = f'{title} / {row.get("setting")!r}'
        if kind == 'unset':
            try:
                actual = resolve(cfg, path, scope, defaults=False)
            except Missing:
                continue
            if actual is not None:
                wrong.append(f'{where}: {path} is {actual!r} in {config}, the doc says unset')
            continue
        try:
            actual = resolve(cfg, path, scope)
        except (KeyError, IndexError, TypeError) as err:
            wrong.append(f'{where}: {path} not in {config} ({err})')
            continue
        if not same(actual, ast.literal_eval(literal)):
            wrong.append(f'{where}: {path} is {actual!r} in {config}, the doc says {literal}')
    assert not wrong, '\n'.join(wrong)


def _needs_build(section):
    try:
        return any(True for _ in _checks(section[2], ('built',)))
    except ValueError:  # reported by test_section_matches_its_config
        return False


# a ViT-B (or a paper-width teacher's layers) costs over 2 CPU-seconds to build
_HEAVY = re.compile(r'vit-b|IN-1K|ImageNet', re.I)


@pytest.mark.parametrize('title,config,rows', [
    pytest.param(*s, marks=pytest.mark.slow) if _HEAVY.search(s[0]) else s
    for s in SECTIONS if _needs_build(s)], ids=[s[0] for s in SECTIONS if _needs_build(s)])
def test_section_matches_its_built_model(title, config, rows):
    """Every `built:` part against the model and optimizer groups the config builds."""
    state = built(config)
    wrong = []
    for row, _, (probe, sub), literal in _checks(rows, ('built',)):
        actual = PROBES[probe](state, sub)
        if not same(actual, ast.literal_eval(literal)):
            wrong.append(f'{title} / {row.get("setting")!r}: built:{probe}({sub}) is {actual!r} '
                         f'for {config}, the doc says {literal}')
    assert not wrong, '\n'.join(wrong)


# -- the checker itself ---------------------------------------------------------------------
def test_checker_parses_resolves_and_rejects(tmp_path):
    text = ('# x\n\n## Pre-train demo\n\nConfig: `configs/tiny/amd_video_tiny.py`\n\n'
            '| setting | official (8d2ec6f) | amd_mm | verdict |\n|---|---|---|---|\n'
            '| wd | 0.05 (`run_amd_pretrain.py:101`) | `optim_wrapper.optimizer.weight_decay` = `0.05`; '
            'code: a note | equal |\n'
            '| crop | 13 (`dataset/transforms.py:376`) | '
            '`train_dataloader.dataset.pipeline[type=RepeatAugment].transforms[*].type` = '
            '`[\'MultiScaleCrop\', \'Resize\']`; `custom_hooks[type=EMAHook]` unset; '
            '`built:drop_path(backbone)` = `0.0` | equal |\n')
    ((title, config, rows),) = parse_sections(text)
    assert title == 'Pre-train demo' and config == 'configs/tiny/amd_video_tiny.py' and len(rows) == 2
    cfg = Config.fromfile(osp.join(ROOT, config))
    assert [k for k, _, _ in parse_cell(rows[0]['amd_mm'])] == ['value', 'note']
    (_, path, literal), (_, unset, _), (_, probe, _) = parse_cell(rows[1]['amd_mm'])
    assert same(resolve(cfg, path), ast.literal_eval(literal))
    assert probe == ('drop_path', 'backbone')
    with pytest.raises(Missing):
        resolve(cfg, unset, defaults=False)
    assert resolve(cfg, 'optim_wrapper.clip_grad.max_norm') == 1.0  # set: `unset` would fail
    assert not same(resolve(cfg, 'optim_wrapper.optimizer.lr'), 2e-3)  # 1e-3 in the tiny config
    # a key the config leaves out: the constructor's default, through the subclasses' **kwargs
    assert 'drop_path_rate' not in cfg.model.backbone
    assert resolve(cfg, 'model.backbone.drop_path_rate') == 0.0  # mmaction2 VisionTransformer
    assert resolve(cfg, 'optim_wrapper.optimizer.eps') == 1e-8  # torch AdamW
    with pytest.raises(Missing):
        resolve(cfg, 'model.backbone.drop_path_rate', defaults=False)
    with pytest.raises(Missing, match='takes no argument'):
        resolve(cfg, 'optim_wrapper.optimizer.no_such_option')
    with pytest.raises(Missing):
        resolve(cfg, 'train_pipeline[type=NoSuchStep].x')
    assert same(0.1 + 0.2, 0.3) and not same(True, 1) and not same([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match='exactly'):
        parse_cell('`optim_wrapper.optimizer.lr` = `0.001` (per 256); more')
    with pytest.raises(ValueError, match='marked'):
        parse_cell('`optim_wrapper.optimizer.lr` = `0.001`; none')
    with pytest.raises(ValueError, match='no such probe'):
        parse_cell('`built:nothing` = `1`')
