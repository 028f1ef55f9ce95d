"""What the command line prints, and how a command fails.

Everything printed that came from outside (file names, cells, symbols, reasons, error messages)
goes out as ``rich.text.Text``, never as markup, with control characters made visible: a cell
``[/]`` prints as ``[/]`` instead of crashing Rich, and a file name cannot drive the terminal.
Every failure ends in one line on stderr. A ``TradewindError`` exits 1 (2 for bad input); any
other exception is a bug: one line and a hint, or its traceback when ``TRADEWIND_DEBUG`` is set.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import NoReturn, ParamSpec

import click
import typer
from pydantic import ValidationError as SettingsError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from tradewind.domain.errors import StorageUnavailable, TradewindError, ValidationError
from tradewind.market.candle_file import CandleFileError
from tradewind.settings import Settings, describe_settings_error

__all__ = ["console", "errors", "fail", "guarded", "hint", "load_settings", "problem", "progress_columns", "text", "visible"]

P = ParamSpec("P")

console = Console()
errors = Console(stderr=True, soft_wrap=True, highlight=False)  # one message, one line, any width

DEBUG_ENV = "TRADEWIND_DEBUG"
MAX_MESSAGE_CHARS = 500  # a safety net: messages quote excerpts already
_PASS_THROUGH = (typer.Exit, typer.Abort, click.exceptions.Exit, click.exceptions.Abort, click.ClickException)
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}


def visible(value: object) -> str:
    """``value`` as text with control characters (terminal escapes, newlines) spelled out."""
    return str(value).translate(_CONTROL)


def text(value: object, style: str = "") -> Text:
    """Outside text for Rich: shown literally, never parsed as markup."""
    return Text(visible(value), style=style)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` as one literal line on stderr and exit with ``code``."""
    if len(message) > MAX_MESSAGE_CHARS:
        message = f"{message[:MAX_MESSAGE_CHARS]}... ({len(message)} characters)"
    errors.print(Text.assemble(("error:", "bold red"), " ", visible(message)))
    raise typer.Exit(code)


def problem(exc: TradewindError) -> str:
    """A bad argument's error, prefixed with the option it came from (file errors name the file)."""
    if isinstance(exc, CandleFileError):
        return str(exc)
    return f"{getattr(exc, 'field', None) or 'argument'}: {exc}"


def hint(exc: TradewindError) -> str:
    """What to check, for errors that have an obvious next step."""
    return " (check TRADEWIND_DATABASE_URL)" if isinstance(exc, StorageUnavailable) else ""


def guarded(command: Callable[P, None]) -> Callable[P, None]:
    """Run ``command`` so that any failure ends in one line on stderr, not a traceback."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            command(*args, **kwargs)
        except _PASS_THROUGH:
            raise
        except TradewindError as exc:
            fail(f"{exc}{hint(exc)}", 2 if isinstance(exc, ValidationError) else 1)
        except Exception as exc:
            if os.environ.get(DEBUG_ENV):
                raise
            detail = " ".join(str(exc).split())[:200]
            fail(f"unexpected {type(exc).__name__}{': ' + detail if detail else ''} "
                  f"(a bug in tradewind; set {DEBUG_ENV}=1 to see the traceback)", 1)

    return run


def load_settings(**overrides: object) -> Settings:
    """Load settings or stop with one line naming the bad one."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except SettingsError as exc:
        fail(describe_settings_error(exc))


def progress_columns() -> tuple[TextColumn, BarColumn, MofNCompleteColumn, TimeElapsedColumn]:
    """Progress bar columns; the description (it names a file) is shown literally."""
    return (TextColumn("{task.description}", style="bold", markup=False), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn())
