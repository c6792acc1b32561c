"""Running the app on uvicorn (`provenance serve`) and the worker alone (`provenance worker`)."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from dataclasses import asdict, replace
from typing import Any

from ..config import Settings
from .options import ServerOptions

# Where `serve --processes N` hands its options to the processes uvicorn starts (they import the app afresh).
OPTIONS_ENV = "PROVENANCE_SERVE_OPTIONS"
_UVICORN: dict[str, Any] = {
    "log_level": "info",
    "access_log": False,
    "timeout_keep_alive": 5,
    "timeout_graceful_shutdown": 10,
    "limit_concurrency": 256,
}


def serve(settings: Settings, options: ServerOptions, host: str, port: int) -> None:
    import uvicorn

    from .app import create_app
    from .service import VerificationService

    service = VerificationService(settings)  # opens chain, store and ledger now: a failure is one line before listening
    if options.processes > 1:
        _serve_processes(settings, options, host, port)
        return
    app = create_app(settings, options, service)
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, **_UVICORN)).run()


def _serve_processes(settings: Settings, options: ServerOptions, host: str, port: int) -> None:
    """uvicorn's supervisor with `options.processes` server processes on one socket; the certify worker runs here, once.

    One Python process verifies on one core at a time (the GIL): under load the
    service is CPU-bound, so more processes use more cores. Each process opens
    its own chain, store and ledger connections from the same settings (they
    come from the environment, as here). Rate limits are kept per process.
    """
    import uvicorn

    from .worker import Worker

    os.environ[OPTIONS_ENV] = json.dumps(asdict(replace(options, worker=False, processes=1)))
    worker = Worker(settings) if options.worker else None
    if worker is not None:
        worker.start()
    try:
        uvicorn.run("provenance.server.run:app_from_environment", factory=True, host=host, port=port, workers=options.processes, **_UVICORN)
    finally:
        if worker is not None:
            worker.stop()


def app_from_environment():
    """The app of one process started by `_serve_processes` (settings and options from its environment)."""
    from ..config import load_settings
    from .app import create_app

    return create_app(load_settings(), ServerOptions(**json.loads(os.environ[OPTIONS_ENV])))


def run_worker(settings: Settings) -> None:
    """Run queued certify jobs until SIGINT or SIGTERM."""
    from .worker import Worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    worker = Worker(settings)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    worker.start()
    done.wait()
    worker.stop()
