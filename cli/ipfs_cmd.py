"""`provenance ipfs ...`: content addressing and the configured content store."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer

from provenance.atomic_write import temp_then_replace
from provenance.config import Settings, load_settings
from provenance.ipfs import CertificateCids, check_certificates, check_cids, open_store
from provenance.ipfs.embedded import EmbeddedStore
from provenance.ipfs.hashing import cid_of_file
from provenance.ipfs.limits import DEFAULT_LIMITS, FetchLimits

from .output import EXIT_ERROR, EXIT_USAGE, CommandOutput, command_output, err_console, fail

app = typer.Typer(no_args_is_help=True, help="Content addressing (CIDs identical to Kubo) and the IPFS content store.")

JsonOpt = typer.Option(False, "--json", help="Print the JSON envelope (docs/cli.md).")


def _store():
    return open_store(load_settings())


def _embedded() -> EmbeddedStore:
    from provenance.ipfs.fallback import primary_of

    store = primary_of(_store())
    if not isinstance(store, EmbeddedStore):
        raise fail('this command works on the embedded store only (set ipfs_backend = "embedded")')
    return store


def _emit(out: CommandOutput, payload: dict, text: str) -> None:
    out.set_result(payload)
    if out.human and text:
        typer.echo(text)


@contextmanager
def _progress(path: Path, show: bool) -> Iterator[Callable[[int], None] | None]:
    if not show or not err_console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    columns = ("[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task(path.name, total=path.stat().st_size)
        yield lambda n: bar.advance(task, n)


@contextmanager
def _counter(what: str, total: int, show: bool) -> Iterator[Callable[[int], None] | None]:
    if not show or not err_console.is_terminal or total == 0:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress

    with Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), console=err_console, transient=True
    ) as bar:
        task = bar.add_task(what, total=total)
        yield lambda n: bar.advance(task, n)


@contextmanager
def _spinner(show: bool):
    """A spinner showing the pinning service's latest status; yields the status callback or None."""
    if not show or not err_console.is_terminal:
        yield None
        return
    with err_console.status("asking the pinning service") as status:
        yield lambda pin: status.update(f"pin {pin.cid}: {pin.status}")


def _check_version(cid_version: int) -> None:
    if cid_version not in (0, 1):
        raise fail(f"--cid-version must be 0 or 1, got {cid_version}", EXIT_USAGE)


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise fail(f"{path} is not a readable file")


@app.command("cid")
def cid_cmd(
    file: Path = typer.Argument(..., help="File to hash."),
    cid_version: int = typer.Option(0, "--cid-version", help="0 (Kubo's default) or 1 (raw leaves)."),
    quiet: bool = typer.Option(False, "--quiet", "-Q", help="Print only the CID."),
    as_json: bool = JsonOpt,
) -> None:
    """Print the CID `ipfs add --only-hash` gives FILE, storing nothing."""
    with command_output("ipfs cid", as_json) as out:
        _check_version(cid_version)
        _require_file(file)
        with _progress(file, not as_json and not quiet) as progress:
            cid = cid_of_file(file, cid_version=cid_version, progress=progress)
        text = cid if quiet else f"added {cid} {file.name}"
        _emit(out, {"cid": cid, "name": file.name, "cid_version": cid_version}, text)


@app.command("add")
def add_cmd(
    file: Path = typer.Argument(..., help="File to add."),
    cid_version: int = typer.Option(1, "--cid-version", help="0 or 1 (raw leaves)."),
    pin: bool = typer.Option(True, "--pin/--no-pin", help="Pin the content so gc keeps it."),
    as_json: bool = JsonOpt,
) -> None:
    """Add FILE to the configured store."""
    with command_output("ipfs add", as_json) as out:
        _check_version(cid_version)
        _require_file(file)
        store = _store()
        with _progress(file, not as_json) as progress:
            result = store.add_file(file, cid_version=cid_version, progress=progress, pin=pin)
        _emit(out, {**result.to_dict(), "name": file.name, "pinned": pin}, f"added {result.cid} {file.name}")


@app.command("cat")
def cat_cmd(
    cid: str = typer.Argument(..., help="CID of a file."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write here instead of stdout."),
    max_size: int = typer.Option(
        DEFAULT_LIMITS.max_bytes,
        "--max-size",
        help="Refuse content larger than this many bytes (default: 4 GiB, the largest certifiable media).",
    ),
    timeout: Optional[float] = typer.Option(
        None, "--timeout", help="Give up after this many seconds (default: a per-source deadline from the declared size)."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Print (or write) a file's content, every block verified against its CID, streamed in constant memory."""
    with command_output("ipfs cat", as_json) as out:
        if max_size <= 0 or (timeout is not None and timeout <= 0):
            raise fail("--max-size and --timeout must be positive", EXIT_USAGE)
        chunks = _store().iter_cat(cid, limits=FetchLimits(max_bytes=max_size, deadline_s=timeout))
        digest, size = hashlib.sha256(), 0
        with _sink(output, discard=as_json) as write:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                write(chunk)
        if as_json:
            payload = {"cid": cid, "size": size, "sha256": digest.hexdigest()}
            _emit(out, {**payload, "output": str(output) if output else None}, "")


@contextmanager
def _sink(output: Optional[Path], *, discard: bool) -> Iterator[Callable[[bytes], object]]:
    """Where `cat` writes: stdout, nothing (--json without -o), or `output`, which appears only when complete.

    A read can fail half way (a DAG that lies about its size, a source that
    stops); a file named `output` must then not exist, half written.
    """
    if output is None:
        yield (lambda chunk: None) if discard else sys.stdout.buffer.write
        if not discard:
            sys.stdout.buffer.flush()
        return
    try:
        with temp_then_replace(output, "partial") as partial, open(partial, "wb") as fh:
            yield fh.write
    except OSError as exc:
        raise fail(f"cannot write {output}: {exc.strerror}") from None


@app.command("pin")
def pin_cmd(cid: str = typer.Argument(...), as_json: bool = JsonOpt) -> None:
    """Pin a CID whose whole DAG is in the store."""
    with command_output("ipfs pin", as_json) as out:
        _store().pin(cid)
        _emit(out, {"pinned": cid}, f"pinned {cid}")


@app.command("unpin")
def unpin_cmd(cid: str = typer.Argument(...), as_json: bool = JsonOpt) -> None:
    """Remove a pin; the blocks stay until `gc`."""
    with command_output("ipfs unpin", as_json) as out:
        _store().unpin(cid)
        _emit(out, {"unpinned": cid}, f"unpinned {cid}")


@app.command("pins")
def pins_cmd(as_json: bool = JsonOpt) -> None:
    """List pinned CIDs."""
    with command_output("ipfs pins", as_json) as out:
        pins = _store().pins()
        _emit(out, {"pins": pins}, "\n".join(pins))


@app.command("export")
def export_cmd(
    cid: str = typer.Argument(...),
    output: Path = typer.Option(..., "--output", "-o", help="CAR file to write."),
    as_json: bool = JsonOpt,
) -> None:
    """Export a DAG as a CAR v1 file, for any IPFS node or pinning service."""
    with command_output("ipfs export", as_json) as out:
        count = _embedded().export_car(cid, output)
        _emit(out, {"root": cid, "blocks": count, "output": str(output)}, f"exported {cid} ({count} blocks) to {output}")


@app.command("import")
def import_cmd(
    car: Path = typer.Argument(..., help="CAR v1 file."),
    pin: bool = typer.Option(True, "--pin/--no-pin"),
    as_json: bool = JsonOpt,
) -> None:
    """Import a CAR file; every block is verified before anything is stored."""
    with command_output("ipfs import", as_json) as out:
        result = _embedded().import_car(car, pin=pin)
        roots = ", ".join(result.roots)
        _emit(out, result.to_dict(), f"imported {result.blocks} blocks, root {roots}")


@app.command("gc")
def gc_cmd(as_json: bool = JsonOpt) -> None:
    """Delete blocks that no pin reaches."""
    with command_output("ipfs gc", as_json) as out:
        result = _embedded().gc()
        _emit(out, result.to_dict(), f"removed {result.removed} blocks ({result.freed_bytes} bytes), kept {result.kept}")


@app.command("check")
def check_cmd(
    cids: Optional[list[str]] = typer.Argument(None, help="CIDs to check (none: every certificate in the ledger)."),
    from_file: Optional[Path] = typer.Option(None, "--from-file", help="File with one CID per line."),
    as_json: bool = JsonOpt,
) -> None:
    """Check that CIDs are present and verify in the configured store; list what is missing.

    With no CIDs and no --from-file, checks the media and metadata CIDs of every
    certificate in the ledger.
    """
    with command_output("ipfs check", as_json) as out:
        if not cids and from_file is None:
            ok = _check_ledger(load_settings(), out)
        else:
            ok = _check_listed(list(cids or []), from_file, out)
        if not ok:
            out.exit_with(EXIT_ERROR)


def _check_listed(wanted: list[str], from_file: Optional[Path], out: CommandOutput) -> bool:
    if from_file is not None:
        try:
            wanted += from_file.read_text(encoding="utf-8").split()
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"cannot read {from_file}: {exc}") from None
    if not wanted:
        raise fail("no CIDs given (pass CIDs or --from-file)", EXIT_USAGE)
    report = check_cids(_store(), wanted)
    lines = [f"{r.status:8} {r.cid}" + (f"  {r.detail}" if r.detail else "") for r in report.results]
    _emit(out, report.to_dict(), "\n".join(lines))
    return report.ok


def _ledger_certificates(settings: Settings) -> list[CertificateCids]:
    from provenance.ledger import Ledger

    ledger = Ledger.open(settings.ledger_url)
    try:
        rows = ledger.certificates()
    finally:
        ledger.engine.dispose()
    return [CertificateCids(r.chain_id, r.contract, r.content_sha256, r.media_cid, r.metadata_cid) for r in rows]


def _check_ledger(settings: Settings, out: CommandOutput) -> bool:
    certificates = _ledger_certificates(settings)
    with _counter("checking certificates", len(certificates), out.human) as progress:
        report = check_certificates(open_store(settings), certificates, progress)
    summary = report.to_dict()
    problems = summary["problems"]
    lines = [
        f"{p['status']:8} {p['role']:8} {p['cid']}  certificate {p['content_sha256']}" + (f"  {p['detail']}" if p["detail"] else "")
        for p in problems
    ]
    if not certificates:
        lines.append("no certificates in the ledger")
    else:
        lines.append(
            f"{len(certificates)} certificate(s): {len(problems)} problem(s)"
            + (f", {summary['unrecorded_cids']} CID(s) not recorded in the ledger (not checked)" if summary["unrecorded_cids"] else "")
        )
    _emit(out, summary, "\n".join(lines))
    return report.ok


@app.command("publish")
def publish_cmd(
    cid: str = typer.Argument(..., help="CID to pin on the configured pinning service."),
    name: str = typer.Option("", "--name", help="Name of the pin at the service."),
    timeout: float = typer.Option(600.0, "--timeout", help="Seconds to wait until the service has pinned it."),
    poll: float = typer.Option(1.0, "--poll-interval", help="Seconds before the first status check (then 1.5x longer each time)."),
    as_json: bool = JsonOpt,
) -> None:
    """Pin CID on the remote pinning service (IPFS Pinning Service API) and wait until it is pinned.

    With the kubo backend our node's addresses are sent as origins, so the
    service can fetch the content directly; the embedded store sends none.
    """
    from provenance.ipfs.publish import pinning_service, publish

    with command_output("ipfs publish", as_json) as out:
        if timeout <= 0 or poll <= 0:
            raise fail("--timeout and --poll-interval must be positive", EXIT_USAGE)
        settings = load_settings()
        with pinning_service(settings) as service, _spinner(not as_json) as on_status:
            result = publish(open_store(settings), service, cid, name=name, timeout_s=timeout, poll_s=poll, on_status=on_status)
        text = f"pinned {result.status.cid} at {result.service} (request {result.status.requestid})\n"
        text += f"origins: {', '.join(result.origins)}" if result.origins else result.note
        _emit(out, result.to_dict(), text)
