"""`provenance verify FILE...`: check received media against chain, metadata and content."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from provenance.config import load_settings
from provenance.verify import EXIT_CODES, Status, VerificationReport

from .output import command_output, console, iso_time, progress_bar, short_id

_CODES = ", ".join(f"{code} {status.value}" for status, code in sorted(EXIT_CODES.items(), key=lambda kv: kv[1]))
_STYLE = {Status.VERIFIED: "green", Status.MODIFIED: "yellow", Status.NOT_FOUND: "blue"}


def verify_command(
    files: List[Path] = typer.Argument(..., help="Files to verify."),
    token: Optional[str] = typer.Option(None, help="Check against this token id (decimal or 0x-hex) instead of looking it up."),
    rescan: bool = typer.Option(False, "--rescan", help="Run the detectors again and compare with the recorded verdict."),
    full_ids: bool = typer.Option(False, "--full-ids", help="Print token ids whole (shortened to 0x3c17…a9f2 by default)."),
    json_out: bool = typer.Option(False, "--json", help="Print the reports in the JSON envelope (docs/cli.md)."),
    html: Optional[Path] = typer.Option(
        None, "--html", help="Also write the reports as one self-contained HTML page (images embedded), as the web page shows them."
    ),
) -> None:
    from provenance.context import open_parts
    from provenance.scanning import DetectorScanner
    from provenance.tokens import parse_token
    from provenance.verify.verifier import Verifier

    with command_output("verify", json_out, per_file=True) as out:
        token_id = parse_token(token) if token else None
        parts = open_parts(load_settings())
        verifier = Verifier(parts, DetectorScanner() if rescan else None)
        reports = []
        with progress_bar("verifying", len(files), out.human) as bar:
            task = bar.add_task("verify", total=len(files))
            for f in files:
                reports.append(verifier.verify(Path(f), token_id))
                bar.advance(task)
        for report in reports:
            out.add_file(report.to_dict())
            if report.status is Status.ERROR:  # the verifier turned the failure into the report's summary
                out.add_error(report.summary, "ProvenanceError", report.file)
            if out.human:
                _print(report, full_ids)
        if html is not None:
            from provenance.server.render import write_report_file

            write_report_file(reports, [Path(f) for f in files], parts, html)
        worst = max(reports, key=lambda r: r.status.exit_code)
        out.status = worst.status.value
        out.exit_with(worst.status.exit_code)


verify_command.__doc__ = f"""Verify files: exact copy, modified copy, unrelated, tampered, revoked, untrusted issuer.

Exit codes (the highest over all files): {_CODES}.
"""


def _print(report: VerificationReport, full_ids: bool) -> None:
    style = _STYLE.get(report.status, "red")
    cert = report.certificate
    # The certificate's recorded detector verdict belongs in the one line a reader skims.
    verdict = f" (certified verdict: {cert['label']} {cert['score']:.3f})" if cert else ""
    console.print(
        f"[bold]{escape(report.file)}[/]: [{style}]{report.status.value}[/] — {escape(report.summary)}{verdict}",
        highlight=False,
        soft_wrap=True,
    )
    if report.token_id:
        console.print(f"  token {short_id(report.token_id, full_ids)}", highlight=False, soft_wrap=True)
    if cert:
        issued = f", issued {iso_time(cert['issued_at'])} by {cert['issuer']}" if cert.get("issued_at") else ""
        revoked = " [red](revoked)[/]" if cert.get("revoked") else ""
        console.print(f"  verdict {cert['label']} ({cert['score']:.3f}){issued}{revoked}", highlight=False, soft_wrap=True)
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
            table.add_row(check.name, mark, escape(check.reason))
        console.print(table)
    if len(report.candidates) > 1:
        others = ", ".join(f"{short_id(c.token_id, full_ids)} (d={c.distance})" for c in report.candidates[1:])
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
