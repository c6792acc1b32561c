"""`provenance apikeys create|list|revoke`: keys for the HTTP API's authenticated calls (POST /v1/certify)."""

from __future__ import annotations

import typer

from provenance.config import load_settings

from .output import command_output, console

app = typer.Typer(no_args_is_help=True, help="API keys for `provenance serve` (stored hashed in the ledger).")
JSON = typer.Option(False, "--json", help="Print the result in the JSON envelope (docs/cli.md).")


def _ledger():
    from provenance.context import prepare_home
    from provenance.ledger import Ledger

    settings = load_settings()
    prepare_home(settings.home)
    return Ledger.open(settings.ledger_url)


@app.command("create")
def create(name: str = typer.Argument(..., help="Who or what the key is for."), json_out: bool = JSON) -> None:
    """Create a key. It is printed once, now: only its hash is kept."""
    from provenance.server.keys import create_key

    with command_output("apikeys create", json_out) as out:
        info, key = create_key(_ledger(), name)
        out.set_result({**info.to_dict(), "key": key})
        if out.human:
            console.print(f"API key {info.id} ({info.name}); shown only now, store it safely:", highlight=False)
            console.print(key, highlight=False, soft_wrap=True)


@app.command("list")
def list_(json_out: bool = JSON) -> None:
    """List keys (id, name, prefix, when created, last used, revoked)."""
    from provenance.server.keys import list_keys

    with command_output("apikeys list", json_out) as out:
        keys = [k.to_dict() for k in list_keys(_ledger())]
        out.set_result({"keys": keys})
        if out.human:
            for d in keys:
                state = f"revoked {d['revoked_at']}" if d["revoked"] else f"last used {d['last_used_at'] or 'never'}"
                console.print(
                    f"{d['id']:>4}  {d['prefix']}…  {d['name']}  created {d['created_at']}  {state}", highlight=False, soft_wrap=True
                )


@app.command("revoke")
def revoke(key_id: int = typer.Argument(..., help="The key's id (from `apikeys list`)."), json_out: bool = JSON) -> None:
    """Revoke a key: calls with it are refused from now on."""
    from provenance.server.keys import revoke_key

    with command_output("apikeys revoke", json_out) as out:
        info = revoke_key(_ledger(), key_id)
        out.set_result(info.to_dict())
        if out.human:
            console.print(f"API key {info.id} ({info.name}) revoked", highlight=False)
