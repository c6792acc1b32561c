"""`provenance chain up|status|down`: the local testnet."""

from __future__ import annotations

import typer

from provenance.config import load_settings, redact_secrets

from .output import console, emit_json, user_errors

app = typer.Typer(no_args_is_help=True, help="Start, inspect and stop the local chain.")
JSON = typer.Option(False, "--json", help="Print JSON.")


def _shown(status):
    """The status with the credentials of a configured rpc_url masked (in the URL and in the problem it caused)."""
    from dataclasses import replace

    return replace(status, url=status.url and redact_secrets(status.url), problem=status.problem and redact_secrets(status.problem))


def _show(status) -> None:
    if not status.running:
        console.print(f"[yellow]chain not running[/]: {status.problem}")
        return
    rows = [
        ("node", status.url),
        ("chain id", status.chain_id),
        ("block", status.block),
        ("contract", status.contract),
        ("issuer", status.issuer),
        ("issuer role", status.issuer_has_role),
        ("balance (ETH)", status.balance_eth),
    ]
    for name, value in rows:
        if value is not None:
            console.print(f"[bold]{name:>14}[/]  {value}")
    if status.problem:
        console.print(f"[yellow]{status.problem}[/]")


@app.command("up")
def up(json_out: bool = JSON) -> None:
    """Start the local node (its state persists), deploy the registry if needed, grant the issuer role."""
    from provenance.chain_admin import chain_up

    with user_errors():
        status = chain_up(load_settings())
    if json_out:
        emit_json(_shown(status).to_dict())
    else:
        if status.deployed_now:
            console.print(f"deployed the registry at {status.contract}")
        _show(_shown(status))


@app.command("status")
def status(json_out: bool = JSON) -> None:
    """Show node, chain id, contract, issuer and its balance."""
    from provenance.chain_admin import chain_status

    with user_errors():
        current = chain_status(load_settings())
    if json_out:
        emit_json(_shown(current).to_dict())
    else:
        _show(_shown(current))
    if not current.running:
        raise typer.Exit(1)


@app.command("down")
def down(json_out: bool = JSON) -> None:
    """Stop the local node; its chain is kept for the next `chain up`."""
    from provenance.chain_admin import chain_down

    with user_errors():
        stopped = chain_down(load_settings())
    if json_out:
        emit_json({"stopped": stopped})
    elif stopped:
        console.print("local chain stopped")
    else:
        console.print("local chain was not running")


@app.command("deploy")
def deploy(json_out: bool = JSON) -> None:
    """Deploy a new registry on the configured chain (rpc_url) with the issuer's key and record it."""
    from provenance.chain_admin import chain_deploy

    with user_errors():
        status = chain_deploy(load_settings())
    if json_out:
        emit_json(_shown(status).to_dict())
    else:
        _show(_shown(status))
