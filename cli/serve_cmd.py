"""`provenance serve`: the HTTP API and web page; `provenance worker`: the certify queue on its own.

The web framework is imported only inside these commands, so no other command pays for it.
"""

from __future__ import annotations

from typing import Optional

import typer

from provenance.config import load_settings

from .output import command_output


def serve_command(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
    max_upload: Optional[int] = typer.Option(
        None, "--max-upload-bytes", min=1, help="Largest upload in bytes (default: the max_upload_bytes setting, 512 MiB)."
    ),
    rate: float = typer.Option(600.0, "--rate-limit", min=0, help="Requests a minute per client address (0: no limit)."),
    burst: int = typer.Option(60, "--burst", min=1, help="Requests a client may make at once before the rate applies."),
    timeout: float = typer.Option(120.0, "--request-timeout", min=1, help="Seconds a verification may take before the client gets 504."),
    parallel: int = typer.Option(4, "--parallel", min=1, max=64, help="Verifications run at once; more wait their turn."),
    worker: bool = typer.Option(True, "--worker/--no-worker", help="Run queued certify jobs in this process."),
    processes: int = typer.Option(
        1, "--processes", min=1, max=64, help="Server processes sharing the port: more use more CPU cores (rate limits are per process)."
    ),
) -> None:
    """Serve the verification API (/v1, OpenAPI at /openapi.json) and the web page (/) on this home's chain, IPFS and ledger."""
    from provenance.server.options import ServerOptions
    from provenance.server.run import serve

    with command_output("serve", False):
        settings = load_settings()
        options = ServerOptions(
            max_upload_bytes=max_upload or settings.max_upload_bytes,
            rate_per_minute=rate,
            rate_burst=burst,
            request_timeout_s=timeout,
            max_parallel=parallel,
            worker=worker,
            processes=processes,
        )
        serve(settings, options, host, port)


def worker_command() -> None:
    """Run the certify jobs queued through POST /v1/certify, until interrupted (crash-safe: rerun to resume)."""
    from provenance.server.run import run_worker

    with command_output("worker", False):
        run_worker(load_settings())
