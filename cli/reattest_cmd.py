"""`provenance reattest FILE...|--all`: score certified media again and record a changed verdict."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from provenance.config import load_settings

from .output import EXIT_USAGE, command_output, console, err_console, fail, short_id


def reattest_command(
    files: Optional[List[Path]] = typer.Argument(None, help="Certified files (found by their sha256)."),
    all_: bool = typer.Option(False, "--all", help="Every certificate of this issuer in the ledger whose media the IPFS store holds."),
    full_ids: bool = typer.Option(False, "--full-ids", help="Print token ids whole (shortened to 0x3c17…a9f2 by default)."),
    json_out: bool = typer.Option(False, "--json", help="Print the JSON envelope, one object per certificate (docs/cli.md)."),
) -> None:
    """Re-score certified media with the current detectors; a changed verdict gets new signed metadata
    (the old verdict in its history) and is recorded on chain. An unchanged one sends nothing.

    Re-running finishes interrupted work. Exit codes (the highest over all results):
    0 reattested, unchanged or skipped; 1 error (revoked, not this issuer's, unreadable); 4 not_found.
    """
    from provenance.context import open_parts
    from provenance.reattest import EXIT_CODES, Reattester
    from provenance.scanning import DetectorScanner

    with command_output("reattest", json_out, per_file=True) as out:
        if bool(files) == all_:
            raise fail("give the files to re-attest, or --all (not both)", EXIT_USAGE)
        parts = open_parts(load_settings(), signer=True)
        reattester = Reattester(parts.chain, parts.store, parts.ledger, DetectorScanner())
        on_result = (lambda result: _print(result, full_ids)) if out.human else None
        results = reattester.reattest_all(on_result) if all_ else reattester.reattest_files(files or [], on_result)
        for result in results:
            out.add_file(result.to_dict())
            out.exit_with(EXIT_CODES[result.status])
        if out.human and all_ and not results:
            console.print(f"no certificates of issuer {reattester.issuer.address} in the ledger", highlight=False)


def _print(result, full_ids: bool) -> None:
    verdict = f"verdict {result.label} ({result.score:.3f})" if result.label else ""
    if result.status == "reattested":
        was = result.previous
        console.print(
            f"[green]✓[/] {result.file}: re-attested token {short_id(result.token_id, full_ids)} {verdict}, was {was['label']} ({was['score']:.3f}); "
            f"metadata ipfs://{result.metadata_cid} tx {result.tx_hash}",
            highlight=False,
            soft_wrap=True,
        )
    elif result.status == "unchanged":
        console.print(
            f"[dim]=[/] {result.file}: unchanged token {short_id(result.token_id, full_ids)} {verdict}", highlight=False, soft_wrap=True
        )
    elif result.status == "skipped":
        console.print(f"[yellow]-[/] {result.file}: skipped: {result.reason}", highlight=False, soft_wrap=True)
    else:
        message = result.error if result.status == "error" else f"not found: {result.reason}"
        err_console.print(f"[red]✗[/] {result.file}: {message}", highlight=False, soft_wrap=True)
