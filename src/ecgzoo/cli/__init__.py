"""The ``ecgzoo`` command line: data, models, train, evaluate, compare, tune, explain.

Each command group lives in its own module; importing them registers their commands on
``app``. ``main`` turns expected mistakes into one line on stderr.
"""

from __future__ import annotations

# importing the command modules registers their commands
from ecgzoo.cli import apply, data, ensemble, models, runs, scale, search  # noqa: F401
from ecgzoo.cli.app import app, err_console
from ecgzoo.errors import EcgzooError

#: Exit status of a command stopped by Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130


def _interrupted(exc: BaseException) -> bool:
    """Whether a KeyboardInterrupt is anywhere in ``exc``'s chain of causes."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def main() -> None:
    """Entry point: expected mistakes print one line, never a traceback.

    Typer turns Ctrl-C into a silent ``exit 130``; the chain of causes tells it apart from
    other exits, so every command says ``interrupted`` wherever the interrupt lands (inside
    rich progress, Ray, a data loader).
    """
    try:
        app()
    except EcgzooError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise SystemExit(getattr(exc, "exit_code", 2)) from None
    except KeyboardInterrupt:
        err_console.print("interrupted")
        raise SystemExit(EXIT_INTERRUPTED) from None
    except SystemExit as exc:
        if _interrupted(exc):
            err_console.print("interrupted")
            raise SystemExit(EXIT_INTERRUPTED) from None
        raise
