"""The ``ecgzoo`` command line: data, models, train, evaluate, compare, tune, explain.

Each command group lives in its own module; importing them registers their commands on
``app``. ``main`` turns expected mistakes into one line on stderr.
"""

from __future__ import annotations

import errno
import signal
import threading

from rich.text import Text

# importing the command modules registers their commands
from ecgzoo.cli import apply, data, ensemble, models, runs, scale, search  # noqa: F401
from ecgzoo.cli.app import app, err_console
from ecgzoo.errors import EcgzooError

#: Exit status of a command stopped by Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130


def _in_chain(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether a ``kind`` exception is anywhere in ``exc``'s chain of causes."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


#: Exit status of a command stopped by SIGTERM (128 + 15), as shells report it.
EXIT_TERMINATED = 143
# the file-system mistakes a user makes (read-only, full, a folder where a file goes): one line
_EXPECTED_OS = {
    errno.EACCES,
    errno.EPERM,
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EISDIR,
    errno.ENOTDIR,
    errno.EROFS,
    errno.ENOENT,
    errno.ENAMETOOLONG,
    errno.EEXIST,
}


class Terminated(BaseException):  # noqa: N818 - a signal, like KeyboardInterrupt
    """SIGTERM arrived: unwind (``finally`` removes temporary files) and exit 143."""


def _on_sigterm(signum, frame) -> None:  # noqa: ANN001 - the signal module's signature
    raise Terminated


def _one_line(message: str) -> None:
    err_console.print(
        Text.assemble(("error:", "red"), f" {message}"), highlight=False, soft_wrap=True
    )


def main() -> None:
    """Entry point: expected mistakes print one line, never a traceback.

    Typer turns Ctrl-C into a silent ``exit 130``; the chain of causes tells it apart from
    other exits, so every command says ``interrupted`` wherever the interrupt lands (inside
    rich progress, Ray, a data loader). SIGTERM unwinds like Ctrl-C (temporary folders are
    removed on the way out) and exits 143, never 0.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        app()
    except EcgzooError as exc:
        _one_line(str(exc))
        raise SystemExit(getattr(exc, "exit_code", 2)) from None
    except Terminated:
        err_console.print("terminated")
        raise SystemExit(EXIT_TERMINATED) from None
    except KeyboardInterrupt:
        err_console.print("interrupted")
        raise SystemExit(EXIT_INTERRUPTED) from None
    except UnicodeDecodeError as exc:
        # the readers name the file; this is the net for a text file one of them missed
        _one_line(f"a file is not UTF-8 text ({exc.reason} at byte {exc.start})")
        raise SystemExit(2) from None
    except OSError as exc:
        if exc.errno not in _EXPECTED_OS:
            raise
        where = exc.filename if exc.filename is not None else ""
        _one_line(f"{where}: {exc.strerror}" if where else str(exc.strerror or exc))
        raise SystemExit(2) from None
    except SystemExit as exc:
        if _in_chain(exc, Terminated):
            err_console.print("terminated")
            raise SystemExit(EXIT_TERMINATED) from None
        if _in_chain(exc, KeyboardInterrupt):
            err_console.print("interrupted")
            raise SystemExit(EXIT_INTERRUPTED) from None
        raise
