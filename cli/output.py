"""The one output contract of every command (docs/cli.md).

Every command runs its body inside `command_output(...)`. That block

- collects what the command reports (per-file objects or one result),
- turns the project's exceptions (`ProvenanceError` and its subclasses) into
  the one-line `error: ...` message on stderr and the exit code, never a
  traceback (an exception of any other type is a bug and keeps its traceback),
- with `--json` prints the one JSON envelope on stdout, on success and on a
  fatal error alike.

Human output goes to stdout through `console`; progress bars and error lines go
to stderr (`err_console`), so a pipe or `--json` reader sees only the data.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console

from provenance.errors import ProvenanceError

SCHEMA_VERSION = 1
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

console = Console()
err_console = Console(stderr=True)


class CommandError(ProvenanceError):
    """A command's own refusal: a bad combination of options, a file that is not there."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def fail(message: str, code: int = EXIT_ERROR) -> CommandError:
    """The error to raise for a command's own refusal (`raise fail("...", 2)` for a usage error)."""
    return CommandError(message, code)


def error_line(exc: BaseException) -> tuple[str, int]:
    """The one line a user sees for `exc` (credentials in quoted URLs masked) and the exit code it gives.

    This is the only place that decides how an error is shown and what it exits with.
    """
    from provenance.config import redact_secrets

    if isinstance(exc, ProvenanceError):
        return redact_secrets(exc.user_message), exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", EXIT_INTERRUPTED
    if isinstance(exc, OSError):  # a path given on the command line that cannot be read or written
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}", EXIT_ERROR
    return redact_secrets(str(exc) or type(exc).__name__), EXIT_ERROR


def print_error(message: str) -> None:
    from rich.markup import escape

    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


class CommandOutput:
    """What one command run reports; `command_output` prints it (with --json) when the command ends."""

    def __init__(self, command: str, as_json: bool, per_file: bool) -> None:
        self.command = command
        self.as_json = as_json
        self.files: list[dict[str, Any]] | None = [] if per_file else None
        self.result: dict[str, Any] | None = None
        self.errors: list[dict[str, str]] = []
        self.exit_code = EXIT_OK
        self.status: str | None = None  # verify's top-level status; the others are "ok" or "error"

    @property
    def human(self) -> bool:
        return not self.as_json

    def add_file(self, entry: dict[str, Any], error_type: str | None = None) -> None:
        """One per-file object; an `error` in it is also listed under the envelope's `errors`.

        The service records a file's failure as text; `error_type` names its class where the command
        knows it, else it is known only to be a project error (`ProvenanceError`).
        """
        assert self.files is not None, f"{self.command} is not a per-file command"
        self.files.append(entry)
        if entry.get("error"):
            self.add_error(str(entry["error"]), error_type or ProvenanceError.__name__, str(entry.get("file")))

    def set_result(self, result: dict[str, Any]) -> None:
        self.result = result

    def add_error(self, message: str, type_name: str, file: str | None = None) -> None:
        entry = {"type": type_name, "message": message}
        if file is not None:
            entry["file"] = file
        self.errors.append(entry)

    def exit_with(self, code: int) -> None:
        """Raise the exit code to `code` (a run exits with the highest code any part of it gave)."""
        self.exit_code = max(self.exit_code, code)

    def envelope(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "command": self.command,
            "ok": self.exit_code == EXIT_OK,
            "exit_code": self.exit_code,
            "status": self.status or ("ok" if self.exit_code == EXIT_OK else "error"),
        }
        if self.files is not None:
            out["files"] = self.files
        else:
            out["result"] = self.result
        out["errors"] = self.errors
        return out


@contextmanager
def command_output(command: str, as_json: bool, *, per_file: bool = False) -> Iterator[CommandOutput]:
    """Run a command's body: errors rendered in one place, the envelope printed with --json, the exit code set.

    `command` is the command path as typed (`"verify"`, `"chain status"`); `per_file`
    commands report a `files` list, the others one `result` object.
    """
    out = CommandOutput(command, as_json, per_file)
    bug: BaseException | None = None
    try:
        yield out
    except click.exceptions.Exit as stop:  # typer.Exit: the command chose its exit code
        out.exit_with(stop.exit_code)
    except (ProvenanceError, OSError, KeyboardInterrupt) as exc:
        message, code = error_line(exc)
        out.add_error(message, type(exc).__name__)
        out.exit_with(code)
        print_error(message)
    except Exception as exc:  # a bug: the envelope still says so, then the traceback follows
        out.add_error(error_line(exc)[0], type(exc).__name__)
        out.exit_with(EXIT_ERROR)
        bug = exc
    if as_json:
        emit_json(out.envelope())
    if bug is not None:
        raise bug
    if out.exit_code:
        raise click.exceptions.Exit(out.exit_code)


def emit_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def iso_time(timestamp: int | float | None) -> str:
    """A Unix time as ISO-8601 with its zone (UTC), e.g. 2026-12-05T06:30:00+00:00."""
    from provenance.times import iso_utc

    return "-" if timestamp is None else iso_utc(timestamp)


def short_id(token_id: str | None, full: bool = False) -> str:
    """`0x3c17…a9f2` for a 0x-hex token id in human output (`full` keeps it whole)."""
    if not token_id or full or not token_id.startswith("0x") or len(token_id) <= 14:
        return token_id or "-"
    return f"{token_id[:6]}…{token_id[-4:]}"


def progress_bar(label: str, total: int, enabled: bool):
    """A transient progress bar on stderr, shown on a terminal only (`enabled` and stderr is a tty)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not (enabled and err_console.is_terminal and total > 0),
    )
