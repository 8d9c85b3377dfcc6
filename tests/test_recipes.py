"""docs/RECIPES.md cannot drift: every checked cell of every ``## `` section equals the
value of the config the section names (format: /docs/RECIPES.md, top).

A section is ``## <experiment>``, a line ``Config: `<path>` `` and one table
``| setting | official (8d2ec6f) | amd_mm | verdict |``. An ``amd_mm`` cell is ``; ``-separated
parts; a part of the form `` `KEY.PATH` = `LITERAL` `` is checked (mmengine ``Config.fromfile``,
``ast.literal_eval``; floats with rel 1e-9), any other part is free text.
"""
import ast
import math
import os.path as osp
import re

import pytest
from mmengine.config import Config

from conftest import ROOT

DOC = osp.join(ROOT, 'docs', 'RECIPES.md')
HEADER = ['setting', 'official (8d2ec6f)', 'amd_mm', 'verdict']
CHECKED = re.compile(r'^`([^`]+)` = `([^`]+)`$')
PATH_TOKEN = re.compile(r'\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[([A-Za-z_][A-Za-z0-9_]*)=([^\]]+)\]')
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


def resolve(cfg, path: str):
    """``a.b[2].c[type=Name].d`` in a config (see the module docstring)."""
    value, pos = cfg.to_dict() if isinstance(cfg, Config) else cfg, 0
    while pos < len(path):
        m = PATH_TOKEN.match(path, pos)
        if not m or m.end() == pos:
            raise KeyError(f'cannot parse {path!r} at {path[pos:]!r}')
        pos = m.end()
        name, index, key, wanted = m.groups()
        if name is not None:
            if not isinstance(value, dict) or name not in value:
                raise KeyError(f'{path!r}: no key {name!r}')
            value = value[name]
        elif index is not None:
            value = value[int(index)]
        else:
            matches = [v for v in value if isinstance(v, dict) and str(v.get(key)) == wanted]
            if not matches:
                raise KeyError(f'{path!r}: no element with {key}={wanted}')
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


def checked_cells(cell: str):
    """``[(key_path, literal_text)]`` of the checked parts of an ``amd_mm`` cell; a part
    that starts like a checked cell but carries more text is an error (it would go
    unchecked)."""
    out = []
    for part in split_outside_code(cell, '; '):
        part = part.strip()
        m = CHECKED.match(part)
        if m:
            out.append(m.groups())
        elif re.match(r'^`[^`]+` = `', part):
            raise ValueError(f'{part!r}: a checked cell is exactly `KEY.PATH` = `LITERAL`; '
                             'put other text in its own "; "-separated part')
    return out


with open(DOC) as f:
    SECTIONS = parse_sections(f.read())


def test_the_doc_has_the_pre_training_sections():
    titles = [title for title, _, _ in SECTIONS]
    for needed in ('Pre-train K400, ViT-S', 'Pre-train K400, ViT-B', 'Pre-train SSv2, ViT-S',
                   'Pre-train SSv2, ViT-B', 'Pre-train IN-1K'):
        assert any(t.startswith(needed) for t in titles), needed


@pytest.mark.parametrize('title,config,rows', SECTIONS, ids=[s[0] for s in SECTIONS])
def test_section_matches_its_config(title, config, rows):
    assert config, f'{title}: no "Config: `path`" line'
    assert osp.isfile(osp.join(ROOT, config)), f'{title}: {config} does not exist'
    assert rows, f'{title}: no table'
    cfg = Config.fromfile(osp.join(ROOT, config))
    checked = 0
    for row in rows:
        where = f'{title} / {row.get("setting")!r}'
        assert row['_header'] == HEADER, f'{title}: the table header must be {HEADER}'
        assert row['_cells'] == 4, f'{where}: {row["_cells"]} cells'
        official, verdict = row['official (8d2ec6f)'], row['verdict']
        assert official and (SOURCE.search(official) or re.search(r'\bpaper\b|not published', official)), \
            f'{where}: the official cell needs a file:line source, "paper" or "not published"'
        assert re.match(r'^(equal$|equal[ :(]|equivalent: .+|differs on purpose: .+)', verdict), \
            f'{where}: verdict {verdict!r} is not equal / equivalent: why / differs on purpose: why'
        for path, literal in checked_cells(row['amd_mm']):
            expected = ast.literal_eval(literal)
            try:
                actual = resolve(cfg, path)
            except (KeyError, IndexError, TypeError) as err:
                raise AssertionError(f'{where}: {path} not in {config} ({err})') from None
            assert same(actual, expected), f'{where}: {path} is {actual!r} in {config}, the doc says {literal}'
            checked += 1
    assert checked >= 1, f'{title}: no checked cell'


# -- the checker itself ---------------------------------------------------------------------
def test_checker_parses_and_rejects(tmp_path):
    text = ('# x\n\n## Pre-train demo\n\nConfig: `configs/tiny/amd_video_tiny.py`\n\n'
            '| setting | official (8d2ec6f) | amd_mm | verdict |\n|---|---|---|---|\n'
            '| wd | 0.05 (`run_amd_pretrain.py:101`) | `optim_wrapper.optimizer.weight_decay` = `0.05`; '
            'free text | equal |\n'
            '| crop | 13 (`dataset/transforms.py:376`) | '
            '`train_pipeline[type=RepeatAugment].transforms[type=MultiScaleCrop].scales` = `(1, 0.875, 0.75, 0.66)` '
            '| equal |\n')
    ((title, config, rows),) = parse_sections(text)
    assert title == 'Pre-train demo' and config == 'configs/tiny/amd_video_tiny.py' and len(rows) == 2
    cfg = Config.fromfile(osp.join(ROOT, config))
    ((path, literal),) = checked_cells(rows[0]['amd_mm'])
    assert same(resolve(cfg, path), ast.literal_eval(literal))
    ((path, literal),) = checked_cells(rows[1]['amd_mm'])
    assert same(resolve(cfg, path), ast.literal_eval(literal))
    assert not same(resolve(cfg, 'optim_wrapper.optimizer.lr'), 2e-3)  # 1e-3 in the tiny config
    assert same(0.1 + 0.2, 0.3) and not same(True, 1) and not same([1, 2], [1, 2, 3])
    with pytest.raises(KeyError):
        resolve(cfg, 'train_pipeline[type=NoSuchStep].x')
    with pytest.raises(ValueError, match='exactly'):
        checked_cells('`optim_wrapper.optimizer.lr` = `0.001` (per 256); more')
