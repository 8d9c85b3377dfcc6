"""Checks of the list (annotation) files of a config's datasets, before training starts.

mmaction2's ``VideoDataset`` / ``RawframeDataset`` and mmpretrain's
``CustomDataset`` (``ImageNet``, ...) read plain-text lists, one sample a line. Their
readers fail on a bad line with a message that names neither the file nor the line
(``need at least one array to concatenate`` for an empty list, ``invalid literal for
int()`` for a label that is not a number, ``too many values to unpack``), or not at
all: a blank line becomes a sample with an empty file name that fails mid-epoch.

:func:`check_datasets` runs over every dataset of a config (train / val / test
dataloaders, through ``ConcatDataset`` / ``RepeatDataset``-style wrappers) and raises
:class:`ListFileError` with the config key, the file and the line of the first problem.
``tools/train.py`` and ``tools/test.py`` call it before the runner is built, so users'
own configs are checked too. A dataset class is checked when it is (or subclasses
without overriding ``load_data_list``) one of the readers above; others are left alone.

Per line it checks what the reader needs (number of fields, integer labels and frame
counts, no blank line); per list it checks that it exists and is not empty, and that at
least one of up to :data:`NUM_PROBED` sampled entries exists on disk (a wrong
``data_root`` / ``data_prefix`` / ``filename_tmpl`` makes every sample unusable; single
missing files are left to the loading transforms and their ``on_bad``).
"""
import os
import os.path as osp
from typing import Callable, List, Optional, Tuple

NUM_PROBED = 20


class ListFileError(ValueError):
    """A list file, or the data it points to, that a dataset cannot use."""


class _BadLine(Exception):
    pass


def _int(value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise _BadLine(f'{what} {value!r} is not an integer') from None


def _labels(values: List[str], multi_class: bool, num_classes: Optional[int]) -> None:
    labels = [_int(v, 'label') for v in values]
    if multi_class and num_classes is not None:
        for label in labels:
            if not 0 <= label < num_classes:
                raise _BadLine(f'label {label} is outside [0, num_classes={num_classes})')


# -- the line formats -----------------------------------------------------------------
# Each parser takes a stripped, non-blank line and the dataset config, raises _BadLine
# for a line the reader cannot use and returns (entry path relative to the prefix,
# offset of its first frame for frame folders, else 0).

def _video_line(line: str, ds: dict) -> Tuple[str, int]:
    delimiter = ds.get('delimiter', ' ')
    fields = line.split(delimiter)
    if '' in fields:
        raise _BadLine(f'empty field (two delimiters {delimiter!r} in a row, or one at an end)')
    if ds.get('multi_class', False):
        _labels(fields[1:], True, ds.get('num_classes'))
    elif len(fields) > 2:
        raise _BadLine(f'{len(fields)} fields where one label is expected (multi_class=False)')
    elif len(fields) == 2:
        _int(fields[1], 'label')
    return fields[0], 0


def _rawframe_line(line: str, ds: dict) -> Tuple[str, int]:
    fields = line.split()
    head = 3 if ds.get('with_offset', False) else 2
    if len(fields) < head:
        raise _BadLine(f'{len(fields)} field(s) where at least {head} are expected')
    offset = _int(fields[1], 'offset') if head == 3 else 0
    if offset < 0:
        raise _BadLine(f'offset {offset} is negative')
    frames = _int(fields[head - 1], 'frame count')
    if frames < 1:
        raise _BadLine(f'frame count {frames}: the folder has no frames to sample')
    multi_class = ds.get('multi_class', False)
    if not multi_class and len(fields) > head + 1:
        raise _BadLine(f'{len(fields)} fields where one label is expected (multi_class=False)')
    _labels(fields[head:], multi_class, ds.get('num_classes'))
    return fields[0], offset


def _image_line(line: str, ds: dict) -> Tuple[str, int]:
    if not ds.get('with_label', True):
        return line, 0
    fields = line.rsplit(' ', 1)  # file names may hold spaces: the label is the last field
    if len(fields) < 2 or not fields[0]:
        raise _BadLine('no label (with_label=True expects "<file> <label>")')
    _int(fields[1], 'label')
    return fields[0], 0


class _Format:
    def __init__(self, layout: str, parse: Callable, prefix_key: str, is_dir: bool,
                 default_prefix: str = ''):
        self.layout, self.parse, self.prefix_key = layout, parse, prefix_key
        self.is_dir, self.default_prefix = is_dir, default_prefix


def _formats():
    """(reader class, format) pairs; imported lazily (the toolboxes are heavy)."""
    from mmaction.datasets import RawframeDataset, VideoDataset
    from mmpretrain.datasets import CustomDataset
    return [
        (VideoDataset, _Format('<video> <label>', _video_line, 'video', False)),
        (RawframeDataset,
         _Format('<frame_dir> <total_frames> <label>', _rawframe_line, 'img', True)),
        (CustomDataset, _Format('<file> <label>', _image_line, 'img_path', False)),
    ]


def _format_of(cls) -> Optional[_Format]:
    for reader, fmt in _formats():
        if isinstance(cls, type) and issubclass(cls, reader) and \
                cls.load_data_list is reader.load_data_list:
            return fmt
    return None


def _is_remote(path: str) -> bool:
    return '://' in str(path)


def _join(root: str, path: str) -> str:
    return path if not root or osp.isabs(path) or _is_remote(path) else osp.join(root, path)


# -- one list file ---------------------------------------------------------------------
def check_list_file(path: str, fmt: _Format, ds: dict, key: str, prefix: Optional[str]) -> int:
    """Check one list file; returns the number of samples. ``key`` names the dataset
    in the config (``train_dataloader.dataset``) for the messages."""
    where = f'{key}.ann_file {path!r}'
    reader = f'{ds.get("type")} expects "{fmt.layout}" per line'
    if not osp.isfile(path):
        here = '' if osp.isabs(path) else f' (relative to the current directory {os.getcwd()})'
        raise ListFileError(f'{where} does not exist{here}.')
    try:
        with open(path, encoding='utf-8') as f:
            lines = f.read().splitlines()
    except UnicodeDecodeError as err:
        raise ListFileError(
            f'{where} is not UTF-8 text ({err.reason} at byte {err.start}).') from None
    if not any(line.strip() for line in lines):
        raise ListFileError(f'{where} is empty: no samples ({reader}).')
    entries, bad = [], []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        try:
            if not text:
                raise _BadLine('blank line (the reader would take it for a sample with no file)')
            entries.append((number, *fmt.parse(text, ds)))
        except _BadLine as err:
            bad.append((number, str(err), text))
    if bad:
        number, problem, text = bad[0]
        shown = f': {text[:80]!r}' if text else ''
        more = f' (and {len(bad) - 1} more bad line(s))' if len(bad) > 1 else ''
        raise ListFileError(f'{where}, line {number}: {problem}{shown}; {reader}{more}.')
    _probe(entries, fmt, ds, where, prefix)
    return len(entries)


def _probe(entries, fmt: _Format, ds: dict, where: str, prefix: Optional[str]) -> None:
    """At least one of a few entries spread over the list must be usable on disk."""
    prefix = prefix or ''
    if _is_remote(prefix) or not entries:
        return
    step = max(1, len(entries) // NUM_PROBED)
    probed = entries[::step][:NUM_PROBED]
    tmpl, first = ds.get('filename_tmpl', 'img_{:05}.jpg'), None
    for number, rel, offset in probed:
        target = _join(prefix, rel)
        if fmt.is_dir:  # the first frame of the folder, as RawFrameDecode names it
            target = osp.join(target, tmpl.format(ds.get('start_index', 1) + offset))
        if osp.exists(target):
            return
        first = first or (number, target)
    number, target = first
    what = 'first frames' if fmt.is_dir else 'files'
    raise ListFileError(
        f'{where}: none of the {len(probed)} {what} checked exists (line {number} gives '
        f'{target!r}); check data_root / data_prefix'
        + (' / filename_tmpl' if fmt.is_dir else '') + '.')


# -- datasets of a config ---------------------------------------------------------------
def _prefix(ds: dict, fmt: _Format) -> Optional[str]:
    prefix = ds.get('data_prefix', fmt.default_prefix)
    if isinstance(prefix, dict):
        prefix = prefix.get(fmt.prefix_key, '')
    if prefix is None:
        return None
    return _join(ds.get('data_root', '') or '', prefix)


def check_dataset(ds, key: str, scope: Optional[str]) -> None:
    """Check the dataset config ``ds`` (found at ``key``) and the datasets it wraps."""
    from ..registry import resolve_class
    if not isinstance(ds, dict):
        return
    for sub in ('dataset', 'datasets'):
        inner = ds.get(sub)
        for i, item in enumerate(inner if isinstance(inner, (list, tuple)) else [inner]):
            check_dataset(item, f'{key}.{sub}' + (f'.{i}' if sub == 'datasets' else ''), scope)
    if 'type' not in ds:
        return
    fmt = _format_of(resolve_class(ds, 'DATASETS', scope))
    if fmt is None:
        return
    prefix = _prefix(ds, fmt)
    ann = ds.get('ann_file', '')
    if not ann:
        if fmt.parse is _image_line and prefix and not _is_remote(prefix) and not osp.isdir(prefix):
            raise ListFileError(f'{key}: no ann_file and the image folder {prefix!r} '
                                '(data_root / data_prefix) does not exist.')
        return
    path = _join(ds.get('data_root', '') or '', ann)
    if not _is_remote(path):
        check_list_file(path, fmt, ds, key, prefix)


def check_datasets(cfg, loaders=('train', 'val', 'test')) -> None:
    """Check the list files of every dataset of ``cfg``'s ``<loader>_dataloader``s
    (None / missing loaders are skipped). Raises :class:`ListFileError`."""
    scope = cfg.get('default_scope')
    for loader in loaders:
        dataloader = cfg.get(f'{loader}_dataloader')
        if isinstance(dataloader, dict):
            check_dataset(dataloader.get('dataset'), f'{loader}_dataloader.dataset', scope)


# -- labels against the model (a built dataset) ---------------------------------------------
def num_classes_of(model):
    """``(config key, number of classes)`` of a classifier (mmpretrain ``head`` /
    ``data_preprocessor``, mmaction2 ``cls_head``): the smallest, or None for models
    without classes (pre-training)."""
    found = []
    for key in ('head', 'cls_head', 'data_preprocessor'):
        value = getattr(getattr(model, key, None), 'num_classes', None)
        if isinstance(value, int) and value > 0:
            found.append((value, f'model.{key}.num_classes'))
    return (min(found)[1], min(found)[0]) if found else None


def _leaves(dataset):
    """The datasets holding samples under MMEngine / toolbox wrappers."""
    inner = getattr(dataset, 'datasets', None) or (
        [dataset.dataset] if hasattr(dataset, 'dataset') else None)
    if inner:
        for item in inner:
            yield from _leaves(item)
    else:
        yield dataset


def check_labels(dataset, model, key: str = 'train_dataloader.dataset') -> None:
    """Every label of the built ``dataset`` (mmpretrain ``gt_label``, mmaction2 ``label``)
    lies in ``[0, num_classes)`` of ``model`` (:func:`num_classes_of`); otherwise a
    :class:`ListFileError` names the list file and line (the image folder for a folder
    tree), the label and the model's key, instead of torch's ``Class values must be
    smaller than num_classes`` mid-epoch. Models without classes are left alone."""
    import numpy as np
    classes = num_classes_of(model)
    if classes is None:
        return
    what, num = classes
    for leaf in _leaves(dataset):
        if not hasattr(leaf, 'get_data_info'):
            continue
        for index in range(len(leaf)):
            item = leaf.get_data_info(index)  # MMEngine keeps the list serialised
            label = item.get('gt_label', item.get('label')) if isinstance(item, dict) else None
            if label is None:
                continue
            values = np.atleast_1d(np.asarray(label)).ravel()
            if values.size and values.dtype.kind in 'iu' and (values.min() < 0 or values.max() >= num):
                bad = int(values[(values < 0) | (values >= num)][0])
                sample = item.get('img_path') or item.get('filename') or item.get('frame_dir')
                ann = getattr(leaf, 'ann_file', '')
                where = (f'{key}.ann_file {ann!r}, line {index + 1}' if ann else
                         f"{key} (the class folders under {getattr(leaf, 'data_prefix', {})!r}: "
                         f'folder number {bad + 1} in sorted order)')
                raise ListFileError(
                    f'{where}: label {bad} of {sample!r} is outside [0, {what}={num}); fix the '
                    f'label or set {what} (and the head) to the number of classes.')
