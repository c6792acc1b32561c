"""Small HTTP servers on 127.0.0.1 for tests: a Pinning Service API v1 and a trustless gateway."""

from __future__ import annotations

import io
import json
import threading
import uuid
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from provenance.ipfs.car import write_car
from provenance.ipfs.cid import parse_cid
from provenance.ipfs.dag import iter_dag


@contextmanager
def serve(handler_class):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    # A short poll: shutdown() waits for the loop to notice, 0.5 s by default, on every test server.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def _send(self, code: int, body: bytes = b"", ctype: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, code: int, doc) -> None:
        self._send(code, json.dumps(doc).encode())


class PinningState:
    def __init__(self, token: str, fail_names=()):
        self.token = token
        self.fail_names = set(fail_names)
        self.pins: dict[str, dict] = {}
        self.requests: list[dict] = []


def pinning_handler(state: PinningState):
    """Spec behaviour: a new pin is `queued`, then `pinning`, then `pinned` (or `failed`) on later reads."""

    class Handler(_Handler):
        def _authorised(self) -> bool:
            if self.headers.get("Authorization") != f"Bearer {state.token}":
                self._json(401, {"error": {"reason": "UNAUTHORIZED", "details": "bad token"}})
                return False
            return True

        def _advance(self, pin: dict) -> dict:
            order = ["queued", "pinning", "failed" if pin["pin"].get("name") in state.fail_names else "pinned"]
            index = order.index(pin["status"]) if pin["status"] in order else 2
            pin["status"] = order[min(index + 1, 2)]
            return pin

        def do_POST(self):
            if not self._authorised() or self.path != "/pins":
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append(body)
            if "cid" not in body:
                return self._json(400, {"error": {"reason": "BAD_REQUEST", "details": "cid is required"}})
            rid = uuid.uuid4().hex
            state.pins[rid] = {
                "requestid": rid,
                "status": "queued",
                "created": "2024-01-01T00:00:00Z",
                "pin": body,
                "delegates": ["/ip4/127.0.0.1/tcp/4001/p2p/QmService"],
                "info": {},
            }
            self._json(202, state.pins[rid])

        def do_GET(self):
            if not self._authorised():
                return
            url = urlparse(self.path)
            if url.path == "/pins":
                query = parse_qs(url.query)
                wanted = set(query.get("status", ["pinned"])[0].split(","))
                cids = set(query["cid"][0].split(",")) if "cid" in query else None
                results = [p for p in state.pins.values() if p["status"] in wanted and (cids is None or p["pin"]["cid"] in cids)]
                return self._json(200, {"count": len(results), "results": results})
            rid = url.path.rsplit("/", 1)[-1]
            if rid not in state.pins:
                return self._json(404, {"error": {"reason": "NOT_FOUND", "details": rid}})
            self._json(200, self._advance(state.pins[rid]))

        def do_DELETE(self):
            if not self._authorised():
                return
            rid = self.path.rsplit("/", 1)[-1]
            if state.pins.pop(rid, None) is None:
                return self._json(404, {"error": {"reason": "NOT_FOUND", "details": rid}})
            self._send(202)

    return Handler


def gateway_handler(store, mode: str = "honest"):
    """Serves `?format=car` and `?format=raw` from an embedded store; `mode` makes it misbehave
    (`tamper`, `tamper-raw`: wrong bytes in the last block / small raw blocks, `tamper-all`: in every raw block; `no-car`: raw blocks only; `redirect-same`: every
    request first redirected to `/mirror/...` on the same server)."""

    class Handler(_Handler):
        def do_GET(self):
            url = urlparse(self.path)
            if mode == "redirect-same" and not url.path.startswith("/mirror/"):
                self.send_response(302)  # a relative Location: the same origin
                self.send_header("Location", "/mirror" + self.path)
                self.send_header("Content-Length", "0")
                return self.end_headers()
            fmt = parse_qs(url.query).get("format", [""])[0]
            cid = parse_cid(url.path.split("/ipfs/", 1)[1])
            if not store.blocks.has(cid):
                return self._send(404, b"not found", "text/plain")
            if fmt == "car" and mode not in ("no-car", "tamper-raw"):
                out = io.BytesIO()
                write_car(out, [cid], iter_dag(cid, store.blocks.get))
                body = out.getvalue()
                if mode == "tamper":
                    body = body[:-1] + bytes([body[-1] ^ 0xFF])  # last byte of the last block
                return self._send(200, body, "application/vnd.ipld.car")
            if fmt == "raw":
                block = store.blocks.get(cid)
                if (mode == "tamper-raw" and len(block) < 100) or mode == "tamper-all":
                    block = block[:-1] + bytes([block[-1] ^ 0xFF])
                return self._send(200, block, "application/vnd.ipld.raw")
            self._send(400, b"unsupported format", "text/plain")

    return Handler


def header_recording_handler(seen: list[dict]):
    """Answers Kubo's `/api/v0/version` and records each request's headers."""

    class Handler(_Handler):
        def do_POST(self):
            seen.append({"path": self.path, "authorization": self.headers.get("Authorization")})
            if self.path.startswith("/api/v0/version"):
                return self._json(200, {"Version": "0.29.0"})
            self._json(404, {"Message": "unknown command", "Code": 0, "Type": "error"})

    return Handler


class ServedBytes:
    """What a misbehaving server sent, so a test can show the client stopped early."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.sent = 0


def _stream(handler: BaseHTTPRequestHandler, chunks, counter: ServedBytes, pause_s: float = 0.0, limit_s: float = 30.0) -> None:
    """Write `chunks` until the client hangs up or `limit_s` passes (so a failing test cannot hang forever)."""
    import time

    stop = time.monotonic() + limit_s
    try:
        for chunk in chunks:
            if time.monotonic() > stop:
                return
            handler.wfile.write(chunk)
            counter.sent += len(chunk)
            if pause_s:
                time.sleep(pause_s)
    except OSError:
        pass  # the client gave up: what these servers are for


def flood_handler(counter: ServedBytes, *, content_length: int | None = None, raw_from=None, total: int = 64 << 20):
    """Answers every request with `total` bytes, far more than asked for (`Content-Length` set only if given).

    `total` is finite so that a client with no cap (the bug these servers
    show) fails its test instead of filling memory.

    With `raw_from` (an embedded store), `?format=raw` requests are answered
    honestly and only CAR requests flood, so a DAG's root can be read first.
    """

    class Handler(_Handler):
        def do_GET(self):
            counter.requests.append(self.path)
            url = urlparse(self.path)
            fmt = parse_qs(url.query).get("format", [""])[0]
            if raw_from is not None and fmt == "raw":
                block = raw_from.blocks.get(parse_cid(url.path.split("/ipfs/", 1)[1]))
                return self._send(200, block, "application/vnd.ipld.raw")
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.ipld.car" if fmt == "car" else "application/vnd.ipld.raw")
            if content_length is not None:
                self.send_header("Content-Length", str(content_length))
            self.end_headers()
            _stream(self, (b"\x00" * 65536 for _ in range(total // 65536)), counter)

    return Handler


def trickle_handler(counter: ServedBytes, every_s: float = 0.2, limit_s: float = 10.0):
    """Answers at once, then sends one byte every `every_s` seconds for up to `limit_s`: no read ever times out."""

    class Handler(_Handler):
        def do_GET(self):
            counter.requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.ipld.raw")
            self.end_headers()
            _stream(self, iter(lambda: b"x", None), counter, pause_s=every_s, limit_s=limit_s)

    return Handler


def redirect_handler(counter: ServedBytes, target: str):
    """Redirects every request to the same path under `target` (another origin, or this one)."""

    class Handler(_Handler):
        def do_GET(self):
            counter.requests.append(self.path)
            self.send_response(302)
            self.send_header("Location", target.rstrip("/") + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


def recording(handler_class, counter: ServedBytes):
    """`handler_class` that also records each request's path in `counter`."""

    class Handler(handler_class):
        def do_GET(self):
            counter.requests.append(self.path)
            super().do_GET()

    return Handler
