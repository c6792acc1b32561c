"""A live `provenance serve` (uvicorn in a thread, on a free port) over a fresh registry on the session's anvil."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from provenance.config import load_settings
from provenance.context import Parts
from provenance.server.options import ServerOptions
from scripts.make_samples import scene
from tests.pipeline import conftest as pipeline

# The same fixtures as tests/pipeline: a fresh registry deployment per test, and certifying without detectors.
parts = pipeline.parts
certify = pipeline.certify


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    parts: Parts
    home: Path

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, **kwargs)


class _Running:
    def __init__(self, app, port: int):
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(15)


@pytest.fixture
def start_server(parts, home):
    """Start servers with given options over this test's home; all are stopped at the end."""
    from provenance.server.app import create_app
    from provenance.server.service import VerificationService

    running: list[_Running] = []

    def start(**options) -> LiveServer:
        settings = load_settings()
        opts = ServerOptions(**{"max_upload_bytes": settings.max_upload_bytes, "rate_per_minute": 0, **options})
        app = create_app(settings, opts, VerificationService(settings))
        port = free_port()
        server = _Running(app, port).__enter__()
        running.append(server)
        return LiveServer(f"http://127.0.0.1:{port}", parts, home)

    yield start
    for server in running:
        server.__exit__(None, None, None)


@pytest.fixture
def server(start_server) -> LiveServer:
    return start_server()


@pytest.fixture
def photo(tmp_path) -> Path:
    path = tmp_path / "photo.png"
    scene(seed=11).save(path)
    return path
