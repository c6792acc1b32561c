"""`provenance show`, `revoke`, `sync` and `ledger list`."""

from __future__ import annotations

import typer
from rich.table import Table

from provenance.config import load_settings
from provenance.errors import ProvenanceError

from .output import command_output, console, iso_time, progress_bar, short_id

JSON = typer.Option(False, "--json", help="Print the JSON envelope (docs/cli.md).")
ledger_app = typer.Typer(no_args_is_help=True, help="The local ledger of certificates and mint jobs.")


def show_command(token: str = typer.Argument(..., help="Token id (decimal or 0x-hex content sha256)."), json_out: bool = JSON) -> None:
    """Show a certificate as the chain records it."""
    from provenance.context import open_parts
    from provenance.tokens import parse_token

    with command_output("show", json_out) as out:
        token_id = parse_token(token)
        parts = open_parts(load_settings())
        cert = parts.chain.registry.certificate(token_id)
        if cert is None:
            raise ProvenanceError(f"no certificate with token id {token}")
        data = {
            "token_id": cert.token_hex,
            "content_sha256": cert.content_hash.hex(),
            "token_uri": parts.chain.registry.token_uri(token_id),
            **cert.record_fields(),
        }
        # A re-issued certificate's earlier (revoked) records, and a pending re-issue approval.
        history = parts.chain.registry.history(token_id)
        if history:
            data["history"] = [h.record_fields() for h in history]
        approved = parts.chain.registry.reissue_approved_for(token_id)
        if approved:
            data["reissue_approved_for"] = approved
        out.set_result(data)
        if out.human:
            _print_certificate(data)


def _print_certificate(data: dict) -> None:
    """`show` prints every id whole (it is where the full token id is one command away) and times as ISO-8601."""
    for key, value in data.items():
        if key == "issued_at":
            value = iso_time(value)
        elif key == "history":
            value = "; ".join(
                f"{h['label']} ({h['score']:.3f}) issued {iso_time(h['issued_at'])} by {h['issuer']}{' (revoked)' if h['revoked'] else ''}"
                for h in value
            )
        console.print(f"[bold]{key:>20}[/]  {value}", highlight=False, soft_wrap=True)


def revoke_command(
    token: str = typer.Argument(..., help="Token id."),
    reason: str = typer.Option(..., help="Why the certificate is revoked (recorded on chain)."),
    admin: bool = typer.Option(
        False, "--admin", help="Revoke as the registry admin (any issuer's certificate, e.g. for abuse), with the admin key."
    ),
    json_out: bool = JSON,
) -> None:
    """Revoke a certificate (its issuer, or with --admin an admin). It stays readable and says so."""
    from provenance.context import open_parts
    from provenance.indexer import sync
    from provenance.tokens import parse_token

    with command_output("revoke", json_out) as out:
        token_id = parse_token(token)
        if not reason.strip():
            raise ProvenanceError("a revocation needs a reason (--reason)")
        settings = load_settings()
        if admin:
            from provenance.chain_admin import admin_revoke

            tx_hash = admin_revoke(settings, token_id, reason)["tx_hash"]
        else:
            parts = open_parts(settings, signer=True)
            tx_hash = parts.chain.registry.revoke(token_id, reason).tx_hash
            sync(parts.chain, parts.ledger, confirmations=settings.confirmations)
        out.set_result({"token_id": f"0x{token_id:064x}", "tx_hash": tx_hash, "revoked": True})
        if out.human:
            console.print(f"revoked 0x{token_id:064x} in {tx_hash}", highlight=False, soft_wrap=True)


def sync_command(
    confirmations: int = typer.Option(
        None,
        "--confirmations",
        min=0,
        help="Index a block only once this many blocks sit on top of it (default: the `confirmations` setting, 0).",
    ),
    json_out: bool = JSON,
) -> None:
    """Index the registry's events from the chain into the ledger (and undo what the chain took back)."""
    from provenance.context import open_parts
    from provenance.indexer import sync

    with command_output("sync", json_out) as out:
        settings = load_settings()
        parts = open_parts(settings)
        depth = settings.confirmations if confirmations is None else confirmations
        with progress_bar("indexing blocks", 1, out.human) as bar:
            task = bar.add_task("sync", total=None)
            result = sync(
                parts.chain, parts.ledger, confirmations=depth, on_chunk=lambda done, total: bar.update(task, completed=done, total=total)
            )
        out.set_result(result.to_dict())
        if out.human:
            _print_sync(result)


def _print_sync(result) -> None:
    if result.rewound_from is not None:
        console.print(f"the chain replaced blocks from {result.rewound_from} on: indexed them again")
    if result.dropped:
        console.print(
            f"{result.dropped} certificate(s) no longer on chain left the ledger; "
            "their mint jobs are unfinished again (run mint on those files)"
        )
    console.print(f"blocks {result.from_block}..{result.to_block}: {result.events} new events, {result.certificates} certificates updated")


@ledger_app.command("list")
def ledger_list(
    full_ids: bool = typer.Option(False, "--full-ids", help="Print token ids whole (shortened to 0x3c17…a9f2 by default)."),
    json_out: bool = JSON,
) -> None:
    """Certificates and unfinished mint jobs in the ledger."""
    from provenance.context import open_parts

    with command_output("ledger list", json_out) as out:
        parts = open_parts(load_settings())
        d = parts.chain.deployment
        certs = parts.ledger.certificates(d.chain_id, d.address)
        jobs = [j for j in parts.ledger.jobs(chain_id=d.chain_id, contract=d.address) if j.state != "confirmed"]
        cert_rows = [
            {
                "token_id": "0x" + c.content_sha256,
                "label": c.label,
                "score": c.score_bps / 10_000,
                "issuer": c.issuer,
                "owner": c.owner,
                "revoked": c.revoked,
                "metadata_cid": c.metadata_cid,
                "block": c.block_number,
            }
            for c in certs
        ]
        job_rows = [{"file": j.path, "content_sha256": j.content_sha256, "state": j.state, "error": j.error} for j in jobs]
        out.set_result({"certificates": cert_rows, "unfinished_jobs": job_rows})
        if out.human:
            _print_ledger(cert_rows, job_rows, full_ids)


def _print_ledger(cert_rows: list[dict], job_rows: list[dict], full_ids: bool) -> None:
    tokens = [short_id(c["token_id"], full_ids) for c in cert_rows]
    table = Table(box=None)
    # A token id is never cut: a pipe's 80 columns would otherwise end a full id in "…".
    table.add_column("token", no_wrap=True, min_width=max(map(len, tokens), default=5))
    for name in ("label", "score", "revoked", "block"):
        table.add_column(name)
    for c, token in zip(cert_rows, tokens):
        table.add_row(token, c["label"], f"{c['score']:.3f}", "yes" if c["revoked"] else "", str(c["block"]))
    console.print(table)
    for j in job_rows:
        console.print(f"unfinished: {j['file']} ({j['state']}){': ' + j['error'] if j['error'] else ''}", highlight=False)
