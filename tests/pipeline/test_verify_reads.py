"""What one verification reads from the chain: few round trips, every read fresh.

The verifier reads the certificate, its tokenURI and its history in one
JSON-RPC batch, and calls the views by hand (eth_abi) instead of through web3's
contract machinery (BENCHMARKS.md, HTTP verification service). These tests hold
it to the number of requests, to the answers web3's own calls give, and to
seeing a revocation or a withdrawn role made between two verifications by the
same long-lived parts (the server's case).
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from provenance.chain.keys import dev_account
from provenance.chain.registry import ISSUER_ROLE, TokenRecord, _certificate
from provenance.config import load_settings
from provenance.server.service import VerificationService
from provenance.verify.verifier import _last_issuer, _role_reader

from .cli_helpers import run_cli

DEAD = "0x000000000000000000000000000000000000dEaD"


class CountingProxy:
    """A JSON-RPC proxy in front of anvil that counts HTTP requests (a batch is one) and the calls in them."""

    def __init__(self, upstream: str):
        self.requests = 0
        self.calls: Counter[str] = Counter()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the node serves it

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                sent = json.loads(body)
                proxy.requests += 1
                proxy.calls.update(c["method"] for c in (sent if isinstance(sent, list) else [sent]))
                forward = urllib.request.Request(upstream, data=body, headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(forward, timeout=30) as reply:
                    answer = reply.read()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self) -> None:
        self.requests = 0
        self.calls.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_an_exact_copy_is_verified_in_one_round_trip(parts, certify, photo, anvil, monkeypatch):
    certify(photo)
    proxy = CountingProxy(anvil.url)
    try:
        monkeypatch.setenv("PROVENANCE_RPC_URL", proxy.url)
        service = VerificationService(load_settings())  # the server's way: parts opened once, over the proxy
        assert service.verify_file(photo, photo.name).status.value == "verified"  # warm: imports, connections
        proxy.reset()
        report = service.verify_file(photo, photo.name)
        assert report.status.value == "verified"
        # tokenOfContent with the certificate, tokenURI and history of the token it should name, and
        # hasRole of the last certificate's issuer (the same one here), in one batch. No deployment checks:
        # those ran once, when the parts were opened. Through web3's contract functions, one request each: 5.
        assert proxy.requests == 1
        assert proxy.calls == Counter({"eth_call": 5})
        # A guess that misses (the last certificate read had another issuer): the role of the
        # certificate's own issuer is asked in a second request, never taken from the guess.
        registry = service.parts.chain.registry
        _last_issuer[registry.address] = DEAD
        proxy.reset()
        assert service.verify_file(photo, photo.name).status.value == "verified"
        assert proxy.requests == 2
        assert proxy.calls == Counter({"eth_call": 6})
        assert _last_issuer[registry.address] == dev_account().address
    finally:
        proxy.close()


def test_a_revocation_after_a_verification_is_seen_by_the_next(parts, certify, photo):
    (result,) = certify(photo)
    service = VerificationService(parts.settings, parts)  # one set of parts, as in the server
    assert service.verify_file(photo, photo.name).status.value == "verified"
    parts.chain.registry.revoke(int(result.token_id, 16), "issued in error")
    report = service.verify_file(photo, photo.name)
    assert report.status.value == "revoked"
    assert report.certificate["revoked"] is True


def test_a_withdrawn_issuer_role_after_a_verification_is_seen_by_the_next(parts, certify, photo, admin):
    certify(photo)
    service = VerificationService(parts.settings, parts)
    assert service.verify_file(photo, photo.name).status.value == "verified"
    admin.revoke_issuer(dev_account().address)
    assert service.verify_file(photo, photo.name).status.value == "untrusted_issuer"


def test_the_role_read_with_the_record_answers_only_for_its_account(parts):
    registry = parts.chain.registry
    record = TokenRecord(1, None, None, [], issuer_role=(DEAD, True))  # as if read in the batch
    holds_role = _role_reader(registry, record)
    assert holds_role(DEAD.lower()) is True  # the batch's answer
    assert holds_role(dev_account().address) is True  # asked of the chain
    assert holds_role("0x000000000000000000000000000000000000bEEF") is False


def test_hand_made_view_calls_answer_what_web3_answers(parts, certify, photo, tmp_path, admin):
    from scripts.make_samples import scene

    other = tmp_path / "other.png"
    scene(seed=12).save(other)
    (first, second) = certify(photo, other)
    registry = parts.chain.registry
    token = int(first.token_id, 16)
    # A re-issued token, so that history has a row.
    admin.revoke(token, "wrong label")
    admin.approve_reissue(token, dev_account().address, "fixed")
    reissued = run_cli("mint", "--reissue", "--no-detect", "--json", photo)
    assert reissued.returncode == 0, reissued.stderr
    assert len(registry.history(token)) == 1
    contract = registry.contract
    for t in (token, int(second.token_id, 16)):
        expected = _certificate(t, contract.functions.certificate(t).call())
        assert registry.certificate(t) == expected
        assert registry.token_uri(t) == contract.functions.tokenURI(t).call()
        assert registry.history(t) == [_certificate(t, row) for row in contract.functions.history(t).call()]
        record = registry.record(t)
        assert (record.certificate, record.token_uri, record.history) == (expected, registry.token_uri(t), registry.history(t))
        assert registry.token_of_content(expected.content_hash) == contract.functions.tokenOfContent(expected.content_hash).call()
    for account in (dev_account().address, DEAD):
        assert registry.is_issuer(account) == contract.functions.hasRole(ISSUER_ROLE, account).call()
    unknown = 12345
    assert registry.certificate(unknown) is None
    assert registry.history(unknown) == []
    assert registry.token_of_content(unknown.to_bytes(32, "big")) is None
    record = registry.record(unknown)
    assert (record.certificate, record.token_uri, record.history) == (None, None, [])
    assert registry.record_of_content(unknown.to_bytes(32, "big")) == (None, None)
    found, record = registry.record_of_content(registry.certificate(token).content_hash)
    assert found == token and record == registry.record(token)
