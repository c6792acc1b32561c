"""`provenance verify FILE...`: check received media against chain, metadata and content."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from provenance.config import load_settings
from provenance.verify import EXIT_CODES, Status, VerificationReport

from .output import console, emit_json, user_errors

_CODES = ", ".join(f"{code} {status.value}" for status, code in sorted(EXIT_CODES.items(), key=lambda kv: kv[1]))
_STYLE = {Status.VERIFIED: "green", Status.MODIFIED: "yellow", Status.NOT_FOUND: "blue"}


def verify_command(
    files: List[Path] = typer.Argument(..., help="Files to verify."),
    token: Optional[str] = typer.Option(None, help="Check against this token id (decimal or 0x-hex) instead of looking it up."),
    rescan: bool = typer.Option(False, "--rescan", help="Run the detectors again and compare with the recorded verdict."),
    json_out: bool = typer.Option(False, "--json", help="Print the whole report as JSON."),
) -> None:
    from provenance.context import open_parts
    from provenance.scanning import DetectorScanner
    from provenance.verify.verifier import Verifier, parse_token

    with user_errors():  # its one line masks credentials in any URL it quotes
        token_id = parse_token(token) if token else None
        parts = open_parts(load_settings())
        verifier = Verifier(parts, DetectorScanner() if rescan else None)
        reports = [verifier.verify(Path(f), token_id) for f in files]
    if json_out:
        data = [r.to_dict() for r in reports]
        emit_json(data[0] if len(data) == 1 else data)
    else:
        for report in reports:
            _print(report)
    raise typer.Exit(max(r.status.exit_code for r in reports))


verify_command.__doc__ = f"""Verify files: exact copy, modified copy, unrelated, tampered, revoked, untrusted issuer.

Exit codes (the highest over all files): {_CODES}.
"""


def _print(report: VerificationReport) -> None:
    style = _STYLE.get(report.status, "red")
    console.print(f"[bold]{report.file}[/]: [{style}]{report.status.value}[/] — {report.summary}", highlight=False, soft_wrap=True)
    if report.token_id:
        console.print(f"  token {report.token_id}", highlight=False, soft_wrap=True)
    if report.certificate:
        cert = report.certificate
        console.print(f"  verdict {cert['label']} ({cert['score']:.3f})", highlight=False, soft_wrap=True)
        if cert.get("history"):
            earlier = "; ".join(
                f"{h['label']} ({h['score']:.3f}) until {h['replaced_at']}, ipfs://{h['metadata_cid']}" for h in reversed(cert["history"])
            )
            console.print(f"  history (newest first): {earlier}", highlight=False, soft_wrap=True)
    _print_c2pa(report.c2pa)
    if report.checks:
        table = Table(show_header=True, header_style="bold", box=None, padding=(0, 1))
        table.add_column("check")
        table.add_column("result")
        table.add_column("reason", overflow="fold")
        for check in report.checks:
            mark = "[green]pass[/]" if check.passed else ("[yellow]near[/]" if check.fails_as is Status.MODIFIED else "[red]fail[/]")
            table.add_row(check.name, mark, check.reason)
        console.print(table)
    if len(report.candidates) > 1:
        others = ", ".join(f"{c.token_id[:18]}… (d={c.distance})" for c in report.candidates[1:])
        console.print(f"  other candidates: {others}", highlight=False)
    if report.caveat:
        console.print(f"  [dim]{report.caveat}[/]", highlight=False)
    console.print()


def _print_c2pa(section: dict | None) -> None:
    """One line for the file's C2PA manifest, beside (never instead of) the certificate's status."""
    from provenance.c2pa.cli_text import c2pa_line

    line = c2pa_line(section)
    if line:
        console.print(f"  {line}", highlight=False, soft_wrap=True)
