"""The ``ecgzoo`` command line: data, models, train, evaluate, compare, tune, explain.

Each command group lives in its own module; importing them registers their commands on
``app``. ``main`` turns expected mistakes into one line on stderr.
"""

from __future__ import annotations

from ecgzoo.cli import apply, data, models, runs, search  # noqa: F401  (registers the commands)
from ecgzoo.cli.app import app, err_console
from ecgzoo.errors import EcgzooError


def main() -> None:
    """Entry point: expected mistakes print one line, never a traceback."""
    try:
        app()
    except EcgzooError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        err_console.print("interrupted")
        raise SystemExit(130) from None
