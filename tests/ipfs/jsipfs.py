"""A real IPFS peer for tests: js-ipfs 0.66.1 (the Kubo RPC API) from node_modules.

The daemon listens on free 127.0.0.1 ports only, with bootstrap, delegates,
MDNS and webRTCStar off, so no traffic leaves the machine.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
NODE_CANDIDATES = [REPO / "node_modules/node/bin/node", REPO / "node_modules/.bin/node"]
CLI = REPO / "node_modules/ipfs/src/cli.js"


def missing_reason() -> str | None:
    if not any(p.exists() for p in NODE_CANDIDATES):
        return f"Node 22 not installed under {REPO / 'node_modules'} (npm install)"
    if not CLI.exists():
        return f"js-ipfs not installed at {CLI} (npm install)"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JsIpfsDaemon:
    def __init__(self, repo_dir: Path) -> None:
        self.repo_dir = repo_dir
        self.node = next(p for p in NODE_CANDIDATES if p.exists())
        self.env = {**os.environ, "IPFS_PATH": str(repo_dir)}
        self.api_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.process: subprocess.Popen | None = None
        self.log = repo_dir.parent / "jsipfs.log"

    def _cli(self, *args: str) -> None:
        subprocess.run([str(self.node), str(CLI), *args], env=self.env, check=True, capture_output=True, timeout=60)

    def _configure(self) -> None:
        # Edited as JSON rather than with `jsipfs config`: each CLI call costs seconds of Node start-up.
        path = self.repo_dir / "config"
        config = json.loads(path.read_text())
        addresses = config.setdefault("Addresses", {})
        addresses["Swarm"] = ["/ip4/127.0.0.1/tcp/0"]
        addresses["API"] = f"/ip4/127.0.0.1/tcp/{self.api_port}"
        addresses["Gateway"] = f"/ip4/127.0.0.1/tcp/{free_port()}"
        addresses["RPC"] = f"/ip4/127.0.0.1/tcp/{free_port()}"
        addresses["Delegates"] = []
        config["Bootstrap"] = []
        discovery = config.setdefault("Discovery", {})
        discovery["MDNS"] = {**discovery.get("MDNS", {}), "Enabled": False}
        discovery["webRTCStar"] = {**discovery.get("webRTCStar", {}), "Enabled": False}
        path.write_text(json.dumps(config, indent=2))

    def start(self) -> "JsIpfsDaemon":
        self._cli("init", "--profile", "test")
        self._configure()
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [str(self.node), str(CLI), "daemon"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"js-ipfs daemon exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.post(f"{self.api_url}/api/v0/version", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("js-ipfs daemon did not answer within 60 s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)  # the daemon's own session, started above
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)
