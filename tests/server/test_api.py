"""The HTTP API against a live server on a local chain: every answer checked against the CLI's own Verifier."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx
from PIL import Image

from provenance.ipfs.cid import parse_cid
from provenance.verify.verifier import Verifier

from .conftest import LiveServer


def post_file(client: httpx.Client, path: Path, name: str | None = None, url: str = "/v1/verify", **kwargs) -> httpx.Response:
    return client.post(url, files={"file": (name or path.name, path.read_bytes(), "application/octet-stream")}, **kwargs)


def as_cli_would(server: LiveServer, path: Path, name: str) -> dict:
    """What `provenance verify --json` reports for the same file, under the name the client sent."""
    expected = Verifier(server.parts).verify(path).to_dict()
    expected["file"] = name
    # The CLI names the file as it was given on the command line (here: its name, run from its folder).
    expected["summary"] = expected["summary"].replace(str(path), name)
    return expected


def uploads_left(server: LiveServer) -> list[Path]:
    folder = server.home / "uploads"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_exact_copy_is_verified_with_the_cli_report(server, certify, photo):
    (minted,) = certify(photo)
    with server.client() as c:
        r = post_file(c, photo, "received.png")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "verified" and body["token_id"] == minted.token_id
    assert body == as_cli_would(server, photo, "received.png")
    assert uploads_left(server) == []  # the upload's temp file is gone once answered
    assert (server.home / "uploads").stat().st_mode & 0o777 == 0o700  # uploads wait in an owner-only folder


def test_modified_copy(server, certify, photo, tmp_path):
    certify(photo)
    smaller = tmp_path / "smaller.png"
    with Image.open(photo) as img:
        img.resize((img.width // 2, img.height // 2), Image.LANCZOS).save(smaller)
    with server.client() as c:
        body = post_file(c, smaller).json()
    assert body["status"] == "modified", body
    assert body["match"]["kind"] == "perceptual" and body["match"]["distance"] <= body["match"]["threshold"]
    assert body == as_cli_would(server, smaller, "smaller.png")


def test_unrelated_file_is_not_found(server, certify, photo, tmp_path):
    from scripts.make_samples import scene

    certify(photo)
    other = tmp_path / "other.png"
    scene(seed=999).save(other)
    with server.client() as c:
        body = post_file(c, other).json()
    assert body["status"] == "not_found" and body["checks"][0]["check"] == "lookup"


def test_revoked_and_tampered(server, certify, photo, tmp_path):
    from scripts.make_samples import scene

    (minted,) = certify(photo)
    server.parts.chain.registry.revoke(int(minted.token_id, 16), "issued in error")
    second = tmp_path / "second.png"
    scene(seed=21).save(second)
    (other,) = certify(second)
    block = server.parts.store.blocks._path(parse_cid(other.metadata_cid).multihash)
    doc = json.loads(block.read_bytes())
    doc["description"] = "edited after the fact"
    block.write_bytes(json.dumps(doc).encode())
    with server.client() as c:
        revoked = post_file(c, photo).json()
        tampered = post_file(c, second).json()
    assert revoked["status"] == "revoked" and revoked["certificate"]["revoked"] is True
    assert tampered["status"] == "tampered"
    assert [ch["check"] for ch in tampered["checks"] if not ch["passed"]][0] == "metadata_integrity"


def test_verify_by_sha256_or_token(server, certify, photo):
    (minted,) = certify(photo)
    with server.client() as c:
        by_hash = c.post("/v1/verify", json={"sha256": minted.content_sha256}).json()
        by_token = c.post("/v1/verify", json={"token": str(int(minted.token_id, 16))}).json()
        unknown = c.post("/v1/verify", json={"sha256": "ab" * 32}).json()
        bad = c.post("/v1/verify", json={"sha256": "xyz"})
        neither = c.post("/v1/verify", json={"name": "x"})
    assert by_hash["status"] == "verified" and by_hash["token_id"] == minted.token_id
    assert by_token["status"] == "verified"
    assert unknown["status"] == "not_found"
    assert bad.status_code == 422 and bad.json() == {"error": "sha256 must be 64 hex digits"}
    assert neither.status_code == 422 and "sha256" in neither.json()["error"]


def test_certificate_endpoint(server, certify, photo):
    (minted,) = certify(photo)
    with server.client() as c:
        r = c.get(f"/v1/certificates/{minted.token_id}")
        missing = c.get(f"/v1/certificates/0x{'12' * 32}")
        bad = c.get("/v1/certificates/not-a-token")
    assert r.status_code == 200
    cert = r.json()
    assert cert["token_id"] == minted.token_id and cert["metadata_cid"] == minted.metadata_cid and cert["media_cid"] == minted.media_cid
    assert cert["metadata_intact"] is True and cert["metadata"]["provenance"]["content"]["sha256"] == minted.content_sha256
    assert cert["issuer"] == server.parts.chain.registry.signer.address
    assert missing.status_code == 404 and "no certificate" in missing.json()["error"]
    assert bad.status_code == 422 and "neither decimal nor 0x-hex" in bad.json()["error"]


def test_non_media_gets_the_cli_message(server, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a picture\n" * 20)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    truncated = tmp_path / "broken.png"
    truncated.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 200)
    with server.client() as c:
        r415 = post_file(c, text)
        r422 = post_file(c, empty)
        broken = post_file(c, truncated)
    assert r415.status_code == 415
    assert r415.json()["error"] == as_cli_would(server, text, "notes.txt")["summary"] == "notes.txt: not a supported image or video"
    assert r422.status_code == 422 and r422.json()["error"] == "empty.png: empty file"
    assert broken.status_code in (415, 422) and broken.json()["error"] == as_cli_would(server, truncated, "broken.png")["summary"]
    assert uploads_left(server) == []


def test_bad_requests_are_json_errors(server):
    with server.client() as c:
        no_file = c.post("/v1/verify", files={"other": ("a.png", b"x")})
        form = c.post("/v1/verify", content=b"hello", headers={"content-type": "text/plain"})
        broken = c.post("/v1/verify", content=b"--xx\r\ngarbage", headers={"content-type": "multipart/form-data; boundary=yy"})
        nowhere = c.get("/v1/nothing")
    assert no_file.status_code == 422 and no_file.json() == {"error": "no file in the form field 'file'"}
    assert form.status_code == 415 and "multipart/form-data" in form.json()["error"]
    assert broken.status_code == 422 and "error" in broken.json()
    assert nowhere.status_code == 404 and nowhere.json() == {"error": "Not Found"}
    for r in (no_file, form, broken, nowhere):
        assert "Traceback" not in r.text


def test_upload_over_the_limit_is_413_without_reading_the_rest(start_server, tmp_path):
    server = start_server(max_upload_bytes=1024 * 1024)
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * (2 * 1024 * 1024))
    with server.client() as c:
        r = post_file(c, big)
    assert r.status_code == 413 and r.json() == {"error": "upload larger than the limit of 1 MiB"}
    # A chunked body (no Content-Length) of up to 64 MiB: the server must answer 413 after about 1 MiB.
    host, port = server.url.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: multipart/form-data; boundary=BOUNDARY\r\n\r\n"
        )
        head = b'--BOUNDARY\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n\r\n'
        sock.sendall(b"%x\r\n%s\r\n" % (len(head), head))
        chunk = b"\0" * (256 * 1024)
        answer = b""
        sock.setblocking(False)
        while sent < 64 * 1024 * 1024:
            try:
                answer += sock.recv(4096)
            except BlockingIOError:
                pass
            if answer:
                break
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            except (BlockingIOError, ConnectionError):
                time.sleep(0.01)
        sock.setblocking(True)
        deadline = time.monotonic() + 10
        while b"\r\n\r\n" not in answer and time.monotonic() < deadline:
            answer += sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 16 * 1024 * 1024, f"the server let {sent} bytes in before refusing"
    assert uploads_left(server) == []


def test_rate_limit_per_client(start_server, photo):
    server = start_server(rate_per_minute=60, rate_burst=3)
    with server.client() as c:
        codes = [c.post("/v1/verify", json={"sha256": "ab" * 32}).status_code for _ in range(4)]
        limited = c.post("/v1/verify", json={"sha256": "ab" * 32})
        health = [c.get("/healthz").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429]
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1 and "too many requests" in limited.json()["error"]
    assert health == [200] * 5  # the health probe is not limited


def test_healthz_and_openapi(server):
    with server.client() as c:
        health = c.get("/healthz").json()
        spec = c.get("/openapi.json").json()
    assert health["ok"] is True and set(health["checks"]) == {"chain", "ipfs", "database"}
    assert health["checks"]["chain"]["chain_id"] == server.parts.chain.deployment.chain_id
    assert {"/v1/verify", "/v1/certificates/{token}", "/v1/certify", "/v1/jobs/{job_id}", "/healthz"} <= set(spec["paths"])
    assert "multipart/form-data" in spec["paths"]["/v1/verify"]["post"]["requestBody"]["content"]


def test_request_timeout_is_504(start_server, certify, photo):
    server = start_server(request_timeout_s=0.001)
    certify(photo)
    with server.client() as c:
        r = post_file(c, photo)
    assert r.status_code == 504 and r.json() == {"error": "the request took longer than 0.001 s"}


def test_rescan_runs_the_detectors(server, certify, photo):
    (minted,) = certify(photo)  # certified without the detectors: verdict `unscanned`
    with server.client() as c:
        plain = post_file(c, photo).json()
        rescanned = post_file(c, photo, params={"rescan": "true"}).json()
    assert "rescan" not in [ch["check"] for ch in plain["checks"]]
    (check,) = [ch for ch in rescanned["checks"] if ch["check"] == "rescan"]
    assert check["details"]["now"]["label"] in ("likely_authentic", "uncertain", "likely_manipulated")
    assert 0.0 <= check["details"]["now"]["score"] <= 1.0
    assert rescanned["status"] == "verified" and rescanned["token_id"] == minted.token_id
