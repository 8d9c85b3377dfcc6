"""Which exceptions the command-line tools shorten to one sentence.

Only errors the project raises for its users: the project's own error types (subclasses
of :class:`UserError`: bad samples, a checkpoint that could not be written, a lost
rank), and ``ValueError`` / ``FileNotFoundError`` / ``FloatingPointError`` raised by a
``raise`` statement of this package or of ``tools/`` (also when MMEngine's builders
re-raise them with the class name prefixed). The same types raised inside the toolboxes,
numpy or torch, or by a failing operation in the project's own code (``int('x')``), are
internal errors (or errors the project has not learned to explain yet) and keep their
traceback.
"""
import linecache
import os.path as osp

_PACKAGE = osp.dirname(osp.dirname(osp.abspath(__file__)))
_TOOLS = osp.join(osp.dirname(_PACKAGE), 'tools')
SHORTENED = (ValueError, FileNotFoundError, FloatingPointError)


class UserError(Exception):
    """Base of the project's own error types whose message tells the user what to do
    (``BadVideoError``, ``CheckpointWriteError``, ``LostRankError`` ...): the tools print
    them as one sentence, wherever they are raised. Subclasses also derive from the
    built-in type they are (``RuntimeError``, ``OSError``)."""


def _chain(err: BaseException):
    """``err`` and the exceptions of its type it was raised while handling (MMEngine's
    builders re-raise ``type(e)(f'class ... : {e}')`` while handling ``e``)."""
    seen = set()
    while err is not None and id(err) not in seen:
        yield err
        seen.add(id(err))
        inner = err.__cause__ or (None if err.__suppress_context__ else err.__context__)
        err = inner if type(inner) is type(err) else None


def _raised_here(err: BaseException) -> bool:
    tb = err.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    path = osp.abspath(tb.tb_frame.f_code.co_filename)
    if not any(path.startswith(root + osp.sep) for root in (_PACKAGE, _TOOLS)):
        return False
    return linecache.getline(path, tb.tb_lineno).lstrip().startswith('raise')


def raised_by_project(err: BaseException) -> bool:
    """Whether ``err`` comes from a ``raise`` statement of amd_mm or of its tools
    (directly or re-raised by a builder)."""
    return any(_raised_here(link) for link in _chain(err))


def is_user_error(err: BaseException) -> bool:
    """Whether a tool should print ``err`` as one sentence instead of a traceback."""
    if isinstance(err, UserError):
        return True
    return isinstance(err, SHORTENED) and raised_by_project(err)
