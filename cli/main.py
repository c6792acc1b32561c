"""Entry point of the `provenance` command."""

import typer

app = typer.Typer(no_args_is_help=True, help="Provenance: certify and verify media.")


def main() -> None:
    app()
