"""`provenance models list|add|fetch`: the published detector weights on this machine."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn
from rich.table import Table

from .output import CommandOutput, command_output

if TYPE_CHECKING:
    from detect.registry import ModelStatus

app = typer.Typer(no_args_is_help=True, help="Published detector weights: list, add a downloaded file, fetch.")

JsonOpt = typer.Option(False, "--json", help="Print the JSON envelope (docs/cli.md).")


def _short(digest: str | None) -> str:
    return digest[:12] if digest else "-"


@app.command("list")
def list_command(as_json: bool = JsonOpt) -> None:
    """Known models, where their weights come from, and their sha256."""
    with command_output("models list", as_json) as out:
        # The registry imports torch: loaded only when a models command runs, not for every `provenance` start.
        from detect.registry import list_models

        models = list_models()
        out.set_result({"models": [m.to_dict() for m in models]})
        if out.human:
            _print_models(models)


def _print_models(models: list) -> None:
    table = Table("name", "task", "source", "sha256", "published", "terms of use", "description")
    for m in models:
        published = {True: "yes", False: "differs", None: "-"}[m.matches_published]
        table.add_row(m.spec.name, m.spec.task.value, m.source, _short(m.sha256), published, m.spec.licence, m.spec.description)
    Console().print(table)


def _report(out: CommandOutput, status: ModelStatus, verb: str) -> None:
    out.set_result(status.to_dict())
    if not out.human:
        return
    note = "" if status.matches_published is not False else " (differs from the published file)"
    typer.echo(f"{verb} {status.spec.name}: {status.path} sha256 {status.sha256}{note}")


@app.command("add")
def add_command(
    name: str = typer.Argument(..., help="Model name, see `provenance models list`."),
    weights: Path = typer.Option(..., "--weights", help="The checkpoint file you downloaded."),
    as_json: bool = JsonOpt,
) -> None:
    """Check that FILE loads as NAME's checkpoint, then install a copy and record its sha256."""
    with command_output("models add", as_json) as out:
        from detect.registry import add_model

        status = add_model(name, weights)
        _report(out, status, "added")


@app.command("fetch")
def fetch_command(
    name: str = typer.Argument(..., help="Model name, see `provenance models list`."),
    url: Optional[str] = typer.Option(None, "--url", help="Download from this mirror instead of the published address."),
    sha256: Optional[str] = typer.Option(None, "--sha256", help="Expected sha256, for models whose authors publish none."),
    as_json: bool = JsonOpt,
) -> None:
    """Download NAME's published weights (needs internet), verify the pinned sha256, install."""
    show = not as_json and sys.stderr.isatty()
    with command_output("models fetch", as_json) as out:
        from detect.registry import fetch_model

        if not show:
            status = fetch_model(name, url=url, sha256=sha256)
        else:
            columns = ("[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn())
            with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
                task = bar.add_task(f"fetching {name}", total=None)
                status = fetch_model(
                    name, url=url, sha256=sha256, progress=lambda done, total: bar.update(task, completed=done, total=total)
                )
        _report(out, status, "fetched")
