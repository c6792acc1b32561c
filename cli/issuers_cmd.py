"""`provenance issuers grant|revoke|list`: who may issue certificates on the registry.

Granting and revoking take the registry admin's key (PROVENANCE_ADMIN_PRIVATE_KEY or
`admin_keystore`; on the local chain the dev admin account), never the issuer's.
"""

from __future__ import annotations

import typer
from rich.table import Table

from provenance.config import load_settings

from .output import command_output, console

app = typer.Typer(
    no_args_is_help=True,
    help="Issuers of the registry: list them, or (with the admin key) grant and revoke ISSUER_ROLE.",
)
JSON = typer.Option(False, "--json", help="Print the JSON envelope (docs/cli.md).")
ADDRESS = typer.Argument(..., help="The issuer's address (0x and 40 hex digits).")


@app.command("list")
def list_command(json_out: bool = JSON) -> None:
    """Every account ever granted ISSUER_ROLE (by issuer number; active = holds it now) and the admins."""
    from provenance.chain_admin import list_issuers

    with command_output("issuers list", json_out) as out:
        listing = list_issuers(load_settings())
        out.set_result(listing)
        if out.human:
            _print_listing(listing)


def _print_listing(listing: dict) -> None:
    table = Table("#", "issuer", "active", box=None)
    for entry in listing["issuers"]:
        table.add_row(str(entry["issuer_id"]), entry["address"], "yes" if entry["active"] else "no (role revoked)")
    console.print(table)
    for admin in listing["admins"]:
        console.print(f"admin  {admin}", highlight=False)


@app.command("grant")
def grant_command(address: str = ADDRESS, json_out: bool = JSON) -> None:
    """Grant ISSUER_ROLE (admin key). An admin account cannot be an issuer."""
    from provenance.chain_admin import grant_issuer

    with command_output("issuers grant", json_out) as out:
        result = grant_issuer(load_settings(), address)
        out.set_result(result)
        if out.human:
            _report(result, "granted ISSUER_ROLE to", "already an issuer:")


@app.command("revoke")
def revoke_command(address: str = ADDRESS, json_out: bool = JSON) -> None:
    """Revoke ISSUER_ROLE (admin key). Its certificates stay on chain; without a trusted_issuers list naming
    it, verify reports them untrusted_issuer."""
    from provenance.chain_admin import revoke_issuer

    with command_output("issuers revoke", json_out) as out:
        result = revoke_issuer(load_settings(), address)
        out.set_result(result)
        if out.human:
            _report(result, "revoked ISSUER_ROLE of", "not an issuer:")


def _report(result: dict, changed: str, unchanged: str) -> None:
    if result["changed"]:
        console.print(f"{changed} {result['address']} in {result['tx_hash']}", highlight=False, soft_wrap=True)
    else:
        console.print(f"{unchanged} {result['address']} (nothing sent)", highlight=False)
