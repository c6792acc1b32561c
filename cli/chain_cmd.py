"""`provenance chain up|status|down`: the local testnet."""

from __future__ import annotations

import typer

from provenance.config import load_settings, redact_secrets

from .output import EXIT_ERROR, command_output, console

app = typer.Typer(no_args_is_help=True, help="Start, inspect and stop the local chain.")
JSON = typer.Option(False, "--json", help="Print the JSON envelope (docs/cli.md).")


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
        ("admin", status.admin),
        ("admin role", status.admin_has_role),
        ("balance (ETH)", status.balance_eth),
    ]
    for name, value in rows:
        if value is not None:
            console.print(f"[bold]{name:>14}[/]  {value}")
    for line in status.checks or ():
        console.print(f"[bold]{'checked':>14}[/]  {line}", highlight=False, soft_wrap=True)
    if status.problem:
        console.print(f"[yellow]{status.problem}[/]")


@app.command("up")
def up(
    redeploy: bool = typer.Option(
        False,
        "--redeploy",
        help="The recorded registry is gone (the chain was reset): deploy a new one even though the ledger holds "
        "certificates of the old one (they stay in the ledger under the old deployment, out of every listing).",
    ),
    json_out: bool = JSON,
) -> None:
    """Start the local node (its state persists), deploy the registry if needed (admin: the second dev account),
    grant the issuer role (the first dev account)."""
    from provenance.chain_admin import chain_up

    with command_output("chain up", json_out) as out:
        status = chain_up(load_settings(), redeploy=redeploy)
        out.set_result(_shown(status).to_dict())
        if out.human:
            if status.replaced:
                console.print(f"[yellow]the recorded registry is gone[/]: {status.replaced}", highlight=False, soft_wrap=True)
            if status.deployed_now:
                console.print(f"deployed the registry at {status.contract}")
            _show(_shown(status))


@app.command("status")
def status(json_out: bool = JSON) -> None:
    """Show node, chain id, contract, issuer and its balance."""
    from provenance.chain_admin import chain_status

    with command_output("chain status", json_out) as out:
        current = chain_status(load_settings())
        out.set_result(_shown(current).to_dict())
        if out.human:
            _show(_shown(current))
        if not current.running:
            out.exit_with(EXIT_ERROR)


@app.command("down")
def down(json_out: bool = JSON) -> None:
    """Stop the local node; its chain is kept for the next `chain up`."""
    from provenance.chain_admin import chain_down

    with command_output("chain down", json_out) as out:
        stopped = chain_down(load_settings())
        out.set_result({"stopped": stopped})
        if out.human:
            console.print("local chain stopped" if stopped else "local chain was not running")


@app.command("deploy")
def deploy(
    issuer: str = typer.Option(None, "--issuer", help="The issuer to grant ISSUER_ROLE (default: the configured issuer key's address)."),
    json_out: bool = JSON,
) -> None:
    """Deploy a new registry on the configured chain (rpc_url) with the admin key, make the issuer (another
    account) its issuer, and record it. Keys: PROVENANCE_ADMIN_PRIVATE_KEY or `admin_keystore` for the admin."""
    from provenance.chain_admin import chain_deploy

    with command_output("chain deploy", json_out) as out:
        status = chain_deploy(load_settings(), issuer)
        out.set_result(_shown(status).to_dict())
        if out.human:
            _show(_shown(status))


@app.command("trust")
def trust(
    address: str = typer.Argument(..., help="The registry's address on the configured chain."),
    deploy_block: int = typer.Option(None, "--deploy-block", help="Its deploy block, for nodes that refuse to search logs from block 0."),
    json_out: bool = JSON,
) -> None:
    """Check a registry nobody recorded (its code is the compiled registry, its deploy block) and record it."""
    from provenance.chain_admin import chain_trust

    with command_output("chain trust", json_out) as out:
        status = chain_trust(load_settings(), address, deploy_block)
        out.set_result(_shown(status).to_dict())
        if out.human:
            console.print(f"recorded the registry at {status.contract} (deployed in block {status.deploy_block})")
            _show(_shown(status))
