"""`provenance hash FILE...`: content and perceptual hashes of image files."""

from __future__ import annotations

from pathlib import Path

import typer

from provenance.errors import ProvenanceError

from .output import EXIT_ERROR, command_output, error_line, print_error


def _cid(path: Path, sha256: str) -> str | None:
    """CIDv1 of the bytes that hashed to `sha256` (read again in one pass with a fresh sha256 of them)."""
    try:
        from provenance.content import cid_of_hashed
    except ImportError:  # the IPFS package is optional for hashing
        return None
    return cid_of_hashed(path, sha256)  # ContentChanged if the file is no longer those bytes


def _hash_one(path: Path) -> dict[str, object]:
    from provenance.media import load_media
    from provenance.perceptual import perceptual_hashes

    # Validated like `mint` does (by content, size limits, FIFOs refused), so a
    # file that hashes here is one that can be certified.
    media = load_media(path)
    record: dict[str, object] = {"file": str(path), "sha256": media.sha256, **perceptual_hashes(media)}
    cid = _cid(path, media.sha256)
    if cid is not None:
        record["cid"] = cid
    return record


def _text(record: dict[str, object]) -> str:
    lines = [str(record["file"])]
    for field in ("sha256", "phash", "pdq", "pdq_quality", "cid"):
        if field in record:
            lines.append(f"  {field:<12} {record[field]}")
    return "\n".join(lines)


def hash_command(
    files: list[Path] = typer.Argument(..., help="Image or video files to hash."),
    json_out: bool = typer.Option(False, "--json", help="Print the JSON envelope, one object per file (docs/cli.md)."),
) -> None:
    """Print sha256, pHash, PDQ (with quality) and CIDv1 of each image or video (per sampled frame too).

    Files that cannot be read are reported one line each on stderr; the others
    are still hashed, and the exit status is 1 if any failed.
    """
    with command_output("hash", json_out, per_file=True) as out:
        for path in files:
            try:
                record = _hash_one(path)
            except (ProvenanceError, OSError) as exc:
                # One unreadable file is reported and the others still hashed.
                message = error_line(exc)[0] if isinstance(exc, ProvenanceError) else f"{path}: {exc.strerror or exc}"
                print_error(message)
                out.add_file({"file": str(path), "error": message}, type(exc).__name__)
                out.exit_with(EXIT_ERROR)
                continue
            out.add_file(record)
            if out.human:
                typer.echo(_text(record))
