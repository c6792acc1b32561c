"""`provenance keys new`: an encrypted keystore for an issuer or the registry's admin."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from .output import console, emit_json, user_errors

app = typer.Typer(no_args_is_help=True, help="Issuer and admin keys (encrypted keystores; never on the command line).")


@app.command("new")
def new(
    path: Path = typer.Argument(..., help="Where to write the keystore JSON (mode 600)."),
    admin: bool = typer.Option(False, "--admin", help="A key for the registry's admin (deploys, grants issuers, revokes), kept apart from issuer keys."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Create a new key in an encrypted keystore; the password comes from PROVENANCE_KEYSTORE_PASSWORD
    (PROVENANCE_ADMIN_KEYSTORE_PASSWORD with --admin) or a prompt."""
    from provenance.chain.keys import ENV_ADMIN_KEYSTORE_PASSWORD, ENV_KEYSTORE_PASSWORD, create_keystore

    role, setting = ("admin", "admin_keystore") if admin else ("issuer", "keystore")
    password = os.environ.get(ENV_ADMIN_KEYSTORE_PASSWORD if admin else ENV_KEYSTORE_PASSWORD) or typer.prompt(
        f"{role.capitalize()} keystore password", hide_input=True, confirmation_prompt=True
    )
    with user_errors():
        address = create_keystore(path.expanduser(), password)
    if json_out:
        emit_json({"address": address, "keystore": str(path), "role": role})
    else:
        console.print(f"new {role} key {address} in {path}; set {setting} = '{path}' in config.toml", highlight=False)
