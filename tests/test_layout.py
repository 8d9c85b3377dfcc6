"""The repository stays walkable: imports point down the package floors (docs/design.md),
code outside ``models/`` reads a model through the model-engine contract, every relative
link of README.md and docs/ resolves, and the README's commands name tools, configs and
make targets that exist, with arguments the tools accept. Pure file reading: well under
a CPU-second."""
import ast
import glob
import importlib.util
import os
import os.path as osp
import re
import shlex

import pytest

from conftest import ROOT

# docs/design.md, "Packages": each may import only the ones before it
FLOORS = ['registry', 'version', 'utils', 'masking', 'checkpoints', 'compat', 'models',
          'datasets', 'engine', 'measure', 'analysis', 'tools_lib']
# what engine/, measure/ and analysis/ may import of amd_mm.models
CONTRACT = {'engine': ('amd_mm.models.algorithms.contract', 'amd_mm.models.algorithms.pictures'),
            'analysis': ('amd_mm.models.algorithms.contract', 'amd_mm.models.algorithms.pictures'),
            'measure': ('amd_mm.models.algorithms.contract', 'amd_mm.models.utils')}


def amd_mm_imports():
    """``(module, imported amd_mm module)`` for every import of the package's code."""
    out = []
    for path in glob.glob(osp.join(ROOT, 'amd_mm', '**', '*.py'), recursive=True):
        rel = osp.relpath(path, ROOT)[:-3].replace(os.sep, '.')
        package = rel.endswith('.__init__')
        module = rel[:-len('.__init__')] if package else rel
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = module.split('.') if package else module.split('.')[:-1]
                    base = base[:len(base) - node.level + 1] + ([node.module] if node.module else [])
                    target = '.'.join(base)
                else:
                    target = node.module or ''
                names = [f'{target}.{a.name}' for a in node.names] if target in (
                    'amd_mm', module.rsplit('.', 1)[0]) and not node.module else [target]
                out += [(module, t) for t in names if t.startswith('amd_mm.')]
            elif isinstance(node, ast.Import):
                out += [(module, a.name) for a in node.names if a.name.startswith('amd_mm.')]
    return out


def floor(module: str):
    parts = module.split('.')
    return parts[1] if len(parts) > 1 else None


def test_packages_import_only_downwards():
    imports = amd_mm_imports()
    assert len(imports) > 100
    upward = []
    for module, target in imports:
        mine, theirs = floor(module), floor(target)
        if mine is None or mine == theirs:
            continue
        assert mine in FLOORS and theirs in FLOORS, (module, target)
        if FLOORS.index(theirs) > FLOORS.index(mine):
            upward.append(f'{module} -> {target}')
    assert upward == []


def test_engine_measure_and_analysis_read_models_through_the_contract():
    outside = [f'{module} -> {target}' for module, target in amd_mm_imports()
               if floor(module) in CONTRACT and floor(target) == 'models'
               and not target.startswith(CONTRACT[floor(module)])]
    assert outside == []


def test_every_package_says_what_lives_there_and_what_it_may_import():
    for init in glob.glob(osp.join(ROOT, 'amd_mm', '**', '__init__.py'), recursive=True):
        doc = ast.get_docstring(ast.parse(open(init).read()))
        assert doc and len(doc) > 80, init
    for name in FLOORS:
        path = osp.join(ROOT, 'amd_mm', name, '__init__.py')
        if osp.isfile(path):
            assert 'import' in ast.get_docstring(ast.parse(open(path).read())), path


# -- docs -----------------------------------------------------------------------------------
DOCS = [osp.join(ROOT, 'README.md')] + sorted(glob.glob(osp.join(ROOT, 'docs', '*.md')))
LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)\)')


def prose(path):
    """The lines of a markdown file outside its code blocks."""
    inside = False
    for line in open(path).read().splitlines():
        if line.lstrip().startswith('```'):
            inside = not inside
        elif not inside:
            yield line


def anchors(path):
    """GitHub's anchors of the headings of a markdown file."""
    out = set()
    for line in prose(path):
        if line.startswith('#'):
            title = line.lstrip('#').strip().lower()
            out.add(re.sub(r'[^\w\- ]', '', title).replace(' ', '-'))
    return out


def test_readme_is_short_and_reaches_every_docs_page():
    readme = open(DOCS[0]).read()
    assert len(readme.splitlines()) <= 300
    for page in DOCS[1:]:
        assert f'(docs/{osp.basename(page)}' in readme, f'{page} is not linked from README.md'


@pytest.mark.parametrize('doc', DOCS, ids=lambda p: osp.relpath(p, ROOT))
def test_every_relative_link_resolves(doc):
    links = [m.group(1) for line in prose(doc) for m in LINK.finditer(line)]
    broken = []
    for link in links:
        if re.match(r'[a-z]+:', link):
            continue  # https:, mailto:
        target, _, anchor = link.partition('#')
        path = osp.normpath(osp.join(osp.dirname(doc), target)) if target else doc
        if not osp.exists(path):
            broken.append(f'{link} (no file {osp.relpath(path, ROOT)})')
        elif anchor and path.endswith('.md') and anchor not in anchors(path):
            broken.append(f'{link} (no heading #{anchor})')
    assert broken == []


def readme_commands():
    """The command lines of the README's bash blocks (continuations joined, comments cut)."""
    text = open(DOCS[0]).read()
    lines = []
    for block in re.findall(r'```bash\n(.*?)```', text, flags=re.S):
        for line in block.replace('\\\n', ' ').splitlines():
            line = line.split(' #', 1)[0].strip()
            if line and not line.startswith('#'):
                lines.append(shlex.split(line))
    return lines


def test_readme_commands_name_what_exists_and_parse(monkeypatch):
    monkeypatch.setenv('LOCAL_RANK', '0')  # what the tools' parse_args would set
    commands = readme_commands()
    assert len(commands) >= 10
    targets = set(re.findall(r'^([\w-]+):', open(osp.join(ROOT, 'Makefile')).read(), re.M))
    parsed = 0
    for argv in commands:
        words = list(argv)
        while re.match(r'[A-Z_]+=', words[0]):  # environment variables before the command
            words.pop(0)
        if words[0] == 'make':
            assert words[1] in targets, argv
            continue
        assert words[0] in ('python', 'bash'), argv
        script = words[1]
        assert osp.isfile(osp.join(ROOT, script)), argv
        for word in words[2:]:
            if word.startswith('configs/'):
                assert osp.isfile(osp.join(ROOT, word)), argv
        spec = importlib.util.spec_from_file_location('readme_' + osp.basename(script)[:-3],
                                                      osp.join(ROOT, script))
        if script.endswith('.py') and 'def parse_args' in open(osp.join(ROOT, script)).read():
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            module.parse_args(words[2:])  # the tool accepts the README's arguments
            parsed += 1
    assert parsed >= 4  # the tools/train.py lines
