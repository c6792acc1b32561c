"""How one server process behaves: limits, rate, timeouts, whether it runs the worker."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServerOptions:
    max_upload_bytes: int = 512 * 1024**2  # Settings.max_upload_bytes unless the command line says otherwise
    rate_per_minute: float = 600.0  # per client address; 0 turns rate limiting off
    rate_burst: int = 60
    request_timeout_s: float = 120.0  # the longest a verification may take before the client gets 504
    upload_timeout_s: float = 300.0  # the longest an upload body may take to arrive (408 after)
    max_parallel: int = 4  # verifications running at once; more wait their turn
    worker: bool = True  # run queued certify jobs in this process
    processes: int = 1  # server processes sharing the port (uvicorn workers); each has its own threads and rate buckets
