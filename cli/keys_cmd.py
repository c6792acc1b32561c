"""`provenance keys new`: an encrypted issuer keystore."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from .output import console, emit_json, user_errors

app = typer.Typer(no_args_is_help=True, help="Issuer keys (encrypted keystores; never on the command line).")


@app.command("new")
def new(
    path: Path = typer.Argument(..., help="Where to write the keystore JSON (mode 600)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Create a new key in an encrypted keystore; the password comes from PROVENANCE_KEYSTORE_PASSWORD or a prompt."""
    from provenance.chain.keys import ENV_KEYSTORE_PASSWORD, create_keystore

    password = os.environ.get(ENV_KEYSTORE_PASSWORD) or typer.prompt("Keystore password", hide_input=True, confirmation_prompt=True)
    with user_errors():
        address = create_keystore(path.expanduser(), password)
    if json_out:
        emit_json({"address": address, "keystore": str(path)})
    else:
        console.print(f"new issuer {address} in {path}; set keystore = '{path}' in config.toml", highlight=False)
