"""Entry point of the `provenance` command."""

from __future__ import annotations

import typer

from . import chain_cmd

app = typer.Typer(
    no_args_is_help=True,
    help="Provenance: certify media on chain and verify received copies.",
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(chain_cmd.app, name="chain")


def main() -> None:
    app()
