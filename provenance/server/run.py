"""Running the app on uvicorn (`provenance serve`) and the worker alone (`provenance worker`)."""

from __future__ import annotations

import logging
import signal
import threading

from ..config import Settings
from .options import ServerOptions


def serve(settings: Settings, options: ServerOptions, host: str, port: int) -> None:
    import uvicorn

    from .app import create_app
    from .service import VerificationService

    service = VerificationService(settings)  # opens chain, store and ledger now: a failure is one line before listening
    app = create_app(settings, options, service)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info",
        access_log=False,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=10,
        limit_concurrency=256,
    )
    uvicorn.Server(config).run()


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
