"""`provenance keys new`: an encrypted keystore for an issuer or the registry's admin."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from .output import command_output, console

app = typer.Typer(no_args_is_help=True, help="Issuer and admin keys (encrypted keystores; never on the command line).")


@app.command("new")
def new(
    path: Path = typer.Argument(..., help="Where to write the keystore JSON (mode 600)."),
    admin: bool = typer.Option(
        False, "--admin", help="A key for the registry's admin (deploys, grants issuers, revokes), kept apart from issuer keys."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the JSON envelope (docs/cli.md)."),
) -> None:
    """Create a new key in an encrypted keystore; the password comes from PROVENANCE_KEYSTORE_PASSWORD
    (PROVENANCE_ADMIN_KEYSTORE_PASSWORD with --admin) or a prompt."""
    from provenance.chain.keys import ENV_ADMIN_KEYSTORE_PASSWORD, ENV_KEYSTORE_PASSWORD, create_keystore

    role, setting = ("admin", "admin_keystore") if admin else ("issuer", "keystore")
    with command_output("keys new", json_out) as out:
        password = os.environ.get(ENV_ADMIN_KEYSTORE_PASSWORD if admin else ENV_KEYSTORE_PASSWORD) or typer.prompt(
            f"{role.capitalize()} keystore password", hide_input=True, confirmation_prompt=True, err=True
        )
        address = create_keystore(path.expanduser(), password)
        out.set_result({"address": address, "keystore": str(path), "role": role})
        if out.human:
            console.print(f"new {role} key {address} in {path}; set {setting} = '{path}' in config.toml", highlight=False)


@app.command("cert")
def cert(
    common_name: str = typer.Option(
        "Provenance development issuer", "--name", help="The certificate's common name (shown as the C2PA signer)."
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing development certificate."),
    json_out: bool = typer.Option(False, "--json", help="Print the JSON envelope (docs/cli.md)."),
) -> None:
    """Create a development CA and an ES256 X.509 certificate for signing C2PA manifests (`mint --c2pa-out`),
    under $PROVENANCE_HOME/c2pa; the keys are encrypted with PROVENANCE_C2PA_KEY_PASSWORD or a prompted password.
    Production: set [c2pa] sign_cert and sign_key in config.toml to your CA-issued certificate instead."""
    from provenance.c2pa.certs import ENV_C2PA_KEY_PASSWORD, create_dev_certificate
    from provenance.config import load_settings

    with command_output("keys cert", json_out) as out:
        settings = load_settings()
        password = os.environ.get(ENV_C2PA_KEY_PASSWORD) or typer.prompt(
            "C2PA key password", hide_input=True, confirmation_prompt=True, err=True
        )
        files = create_dev_certificate(settings.home, password, common_name=common_name, force=force)
        out.set_result({"certificate": str(files.chain), "key": str(files.key), "ca_certificate": str(files.ca_cert)})
        if out.human:
            console.print(
                f"C2PA signing certificate {files.chain} (key {files.key}, issued by the development CA {files.ca_cert}); "
                f"verifiers that should trust it set [c2pa] trust_anchors = '{files.ca_cert}'",
                highlight=False,
                soft_wrap=True,
            )
