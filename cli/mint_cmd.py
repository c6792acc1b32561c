"""`provenance mint FILE...`: certify media."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from provenance.config import load_settings

from .output import EXIT_ERROR, EXIT_USAGE, command_output, console, err_console, fail, short_id


def mint_command(
    files: List[Path] = typer.Argument(..., help="Images (JPEG, PNG, WebP, GIF, TIFF) or videos (MP4, MOV, WebM, AVI)."),
    name: Optional[str] = typer.Option(None, help="Certificate name (default: the file name)."),
    description: str = typer.Option("", help="Certificate description."),
    generator: Optional[str] = typer.Option(
        None, help='Declared generator as JSON, e.g. \'{"model": "...", "prompt": "...", "seed": 1}\'.'
    ),
    to: Optional[str] = typer.Option(None, help="Recipient address (default: the issuer)."),
    batch: int = typer.Option(1, min=1, max=200, help="Certificates per transaction."),
    detect: bool = typer.Option(True, "--detect/--no-detect", help="Run the deepfake detectors (off: verdict `unscanned`)."),
    reissue: bool = typer.Option(
        False,
        "--reissue",
        help="Certify again files whose certificate is revoked and whose re-issue by this issuer an admin approved "
        "(`provenance approve-reissue`); the revoked record stays in the token's history.",
    ),
    full_ids: bool = typer.Option(False, "--full-ids", help="Print token ids whole (shortened to 0x3c17…a9f2 by default)."),
    c2pa_out: Optional[Path] = typer.Option(
        None,
        "--c2pa-out",
        metavar="DIR",
        help="Also write DIR/<name>: a copy carrying a C2PA manifest signed with your C2PA certificate (`provenance keys cert`), "
        "naming the certificate; the certificate covers the copy too (docs/verification.md, C2PA).",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the results in the JSON envelope, one object per file (docs/cli.md)."),
) -> None:
    """Certify each file: hash, scan, store on IPFS, mint. Re-running finishes interrupted work."""
    from provenance.certify import Certifier, CertifyOptions
    from provenance.context import open_parts
    from provenance.scanning import DetectorScanner, NoScanner

    with command_output("mint", json_out, per_file=True) as out:
        declared = _parse_generator(generator)
        if to is not None and not _is_address(to):
            raise fail(f"--to {to!r} is not an Ethereum address", EXIT_USAGE)
        options = CertifyOptions(name=name, description=description, generator=declared, to=to, batch=batch, reissue=reissue)
        parts = open_parts(load_settings(), signer=True)
        renditions = _c2pa_writer(c2pa_out, parts)
        certifier = Certifier(
            parts.chain,
            parts.store,
            parts.ledger,
            DetectorScanner() if detect else NoScanner(),
            claims_dir=parts.settings.home / "locks" / "contents",
            renditions=renditions,
        )
        results = _run(certifier, files, options, show_progress=out.human and err_console.is_terminal)
        for result in results:
            out.add_file(_with_c2pa_copy(result.to_dict(), result, renditions))
            if out.human:
                _print(result, full_ids)
                _print_c2pa_copy(result, renditions)
        if any(r.error for r in results):
            out.exit_with(EXIT_ERROR)


def _run(certifier, files: List[Path], options, show_progress: bool) -> list:
    if not show_progress:
        return certifier.certify(files, options)
    with Progress(TextColumn("certifying"), BarColumn(), MofNCompleteColumn(), console=err_console, transient=True) as bar:
        task = bar.add_task("mint", total=len(files))
        return certifier.certify(files, options, on_file=lambda _: bar.advance(task))


def _c2pa_writer(out_dir: Path | None, parts):
    if out_dir is None:
        return None
    from provenance.c2pa.service import rendition_writer  # c2pa loads only when asked for

    return rendition_writer(out_dir, parts)


def _with_c2pa_copy(entry: dict, result, renditions) -> dict:
    """`c2pa_copy`: the path of the signed copy this run wrote (absent without --c2pa-out or when none was written)."""
    copy = renditions.written.get(result.content_sha256) if renditions is not None and not result.error else None
    if copy is not None:
        entry["c2pa_copy"] = str(copy)
    return entry


def _print_c2pa_copy(result, renditions) -> None:
    if renditions is None or result.error:
        return
    copy = renditions.written.get(result.content_sha256)
    if copy is not None:
        console.print(f"  C2PA copy {copy} (covered by this certificate)", highlight=False, soft_wrap=True)
    else:  # the metadata was signed in an earlier run: it names no copy made now
        console.print("  no C2PA copy: the certificate's metadata was already written in an earlier run", highlight=False, soft_wrap=True)


def _is_address(text: str) -> bool:
    from eth_utils import is_address

    return is_address(text)


def _parse_generator(raw: str | None) -> dict | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise fail(f"--generator is not JSON: {exc}", EXIT_USAGE) from None
    if not isinstance(value, dict):
        raise fail("--generator must be a JSON object", EXIT_USAGE)
    return value


def _print(result, full_ids: bool) -> None:
    if result.error:
        reason = result.error.removeprefix(f"{result.file}: ")
        err_console.print(f"[red]✗[/] {result.file}: {reason}", highlight=False, soft_wrap=True)
        return
    state = "already certified" if result.already else ("re-issued" if result.reissued else "certified")
    if result.duplicate_of:
        state = f"same content as {result.duplicate_of}: {state}"
    console.print(
        f"[green]✓[/] {result.file}: {state} token {short_id(result.token_id, full_ids)} "
        f"verdict {result.verdict} metadata ipfs://{result.metadata_cid}",
        highlight=False,
        soft_wrap=True,
    )
