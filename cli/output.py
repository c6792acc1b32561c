"""Shared output helpers: JSON to stdout, one-line errors to stderr, no tracebacks."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from typing import Iterator

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)


def emit_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def fail(message: str, code: int = 1) -> typer.Exit:
    from provenance.config import redact_secrets

    # Client errors quote the endpoint that failed, which may carry credentials from the configuration.
    err_console.print(f"[bold red]error:[/] {redact_secrets(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _project_errors() -> tuple[type[BaseException], ...]:
    from provenance.errors import user_facing_errors

    return user_facing_errors()


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the project's own exceptions into a one-line message and exit code 1."""
    try:
        yield
    except _project_errors() as exc:
        raise fail(str(exc)) from None
