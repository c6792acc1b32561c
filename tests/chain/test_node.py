"""The managed node's pid file and RPC failures after connecting."""

from __future__ import annotations

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from provenance.chain import ChainConfig, ChainError, connect, deploy, open_web3
from provenance.chain.keys import dev_account
from provenance.chain.node import ManagedNode, _pid_alive
from tests.cli_json import error
from tests.pipeline.cli_helpers import run_cli


def test_chain_down_never_signals_a_process_that_is_not_our_anvil(tmp_path):
    """A stale pid file whose pid now belongs to another process: that process lives on."""
    other = subprocess.Popen(["sleep", "60"])
    try:
        node = ManagedNode(tmp_path / "chain")
        node.dir.mkdir(parents=True)
        (node.dir / "anvil.pid").write_text(str(other.pid))
        assert node.status().running is False
        assert node.stop() is False
        assert other.poll() is None, "chain down killed a process that was not its anvil"
        assert not (node.dir / "anvil.pid").exists()
    finally:
        other.kill()
        other.wait()


@pytest.mark.slow
def test_chain_down_stops_its_own_anvil(tmp_path):
    node = ManagedNode(tmp_path / "chain")
    status = node.start(port=None)
    assert status.running
    pid = status.pid
    assert node.stop() is True
    assert not _pid_alive(pid)


class _FailingProxy:
    """Forwards JSON-RPC to anvil, but answers HTTP 500 to one method."""

    def __init__(self, upstream: str, failing: str, status: int = 500, answer: bytes = b"upstream exploded"):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = json.loads(body)
                methods = [r["method"] for r in request] if isinstance(request, list) else [request["method"]]
                if failing in methods:
                    self.send_response(status)
                    self.end_headers()
                    self.wfile.write(answer)
                    return
                reply = httpx.post(proxy.upstream, content=body, headers={"Content-Type": "application/json"})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(reply.content)

            def log_message(self, *args):
                pass

        self.upstream = upstream
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def failing_eth_call(anvil):
    proxy = _FailingProxy(anvil.url, "eth_call")
    yield proxy
    proxy.close()


def test_an_rpc_failure_after_connecting_is_a_chain_error(anvil, tmp_path, failing_eth_call):
    config = ChainConfig(home=tmp_path, rpc_url=anvil.url)
    deploy(config, open_web3(anvil.url), anvil.url, dev_account())
    session = connect(ChainConfig(home=tmp_path, rpc_url=failing_eth_call.url))
    with pytest.raises(ChainError, match="500"):
        session.registry.certificate(1)


def test_cli_prints_an_rpc_failure_as_one_line_and_json(anvil, home, failing_eth_call):
    deploy(ChainConfig(home=home, rpc_url=anvil.url), open_web3(anvil.url), anvil.url, dev_account())
    env = {"PROVENANCE_RPC_URL": failing_eth_call.url}
    plain = run_cli("show", "0x01", env=env)
    assert plain.returncode == 1
    assert "Traceback" not in plain.stderr and "HTTPError" not in plain.stderr
    assert "500" in plain.stderr
    as_json = run_cli("show", "0x01", "--json", env=env)
    assert as_json.returncode == 1 and "Traceback" not in as_json.stderr
    assert "500" in error(as_json.stdout)


def test_an_answer_that_is_not_json_rpc_is_a_chain_error(anvil, tmp_path):
    deploy(ChainConfig(home=tmp_path, rpc_url=anvil.url), open_web3(anvil.url), anvil.url, dev_account())
    proxy = _FailingProxy(anvil.url, "eth_call", status=200, answer=b"<html>maintenance</html>")
    try:
        session = connect(ChainConfig(home=tmp_path, rpc_url=proxy.url))
        with pytest.raises(ChainError, match="not JSON-RPC"):
            session.registry.certificate(1)
    finally:
        proxy.close()
