"""HTTP with retries and backoff, shared by the Kubo, pinning-service and gateway clients.

Retries only what is safe to repeat: connection failures, timeouts and
502/503/504 answers. Everything else surfaces at once. Content is read with
`fetch_capped`: bounded in bytes and time, redirects kept within one origin.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

import httpx

from provenance.ipfs.errors import DeadlineExceeded, RemoteError, StoreUnavailable
from provenance.ipfs.limits import Deadline

RETRY_STATUS = {502, 503, 504}


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    backoff_s: float = 0.25  # doubled after each failed attempt
    max_backoff_s: float = 4.0

    def delays(self):
        delay = self.backoff_s
        for _ in range(self.attempts - 1):
            yield delay
            delay = min(delay * 2, self.max_backoff_s)


def send_with_retries(
    send: Callable[[], httpx.Response], policy: RetryPolicy, what: str, sleep: Callable[[float], None] = time.sleep
) -> httpx.Response:
    """Call `send` until it answers with something other than a transient failure."""
    delays = policy.delays()
    while True:
        try:
            response = send()
            if response.status_code not in RETRY_STATUS:
                return response
            failure = f"HTTP {response.status_code}"
        except (httpx.TransportError, httpx.TimeoutException) as exc:
            failure = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        delay = next(delays, None)
        if delay is None:
            raise StoreUnavailable(f"{what} failed after {policy.attempts} attempts ({failure})")
        sleep(delay)


# -- bounded reads ------------------------------------------------------------------------
#
# A source that is trusted for nothing may answer with gigabytes, with one byte
# every few seconds (each read well inside any per-read timeout), or with a
# redirect to anywhere. `fetch_capped` reads a body only up to a byte cap and a
# wall-clock deadline, and follows redirects only within the origin asked.

REDIRECT_STATUS = {301, 302, 303, 307, 308}
ERROR_BODY_BYTES = 64 * 1024  # enough for any error message worth showing
MAX_REDIRECTS = 3


@dataclass(frozen=True)
class CappedBody:
    status_code: int
    content_type: str
    content: bytes  # empty when written to a sink


class _Transient(Exception):
    """A 502/503/504 answer, retried like a connection failure."""


def fetch_capped(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    what: str,
    max_bytes: int,
    deadline: Deadline,
    retry: RetryPolicy,
    request_timeout_s: float = 60.0,
    params: dict | None = None,
    headers: dict | None = None,
    sink: BinaryIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> CappedBody:
    """`method url` with retries, its 200 body at most `max_bytes` and finished by `deadline`.

    Raises `RemoteError` for a body over the cap or a redirect to another
    origin (the source's fault: try another), `DeadlineExceeded` once the
    deadline passes (a read in progress waits at most until then), and
    `StoreUnavailable` when retries run out. A 200 body goes to `sink` if
    given (rewound on each retry), else into the result; any other status
    comes back with at most `ERROR_BODY_BYTES` of its body.
    """
    delays = retry.delays()
    while True:
        deadline.check()
        try:
            return _fetch_once(client, method, url, what, max_bytes, deadline, request_timeout_s, params, headers, sink)
        except (httpx.TransportError, httpx.TimeoutException) as exc:
            failure = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        except _Transient as exc:
            failure = str(exc)
        deadline.check()  # a read cut short by the deadline is not worth a retry
        delay = next(delays, None)
        if delay is None:
            raise StoreUnavailable(f"{what} failed after {retry.attempts} attempts ({failure})")
        if delay >= deadline.remaining():
            raise DeadlineExceeded(f"{what} failed ({failure}) and its deadline leaves no time to retry")
        sleep(delay)


def _fetch_once(client, method, url, what, max_bytes, deadline, request_timeout_s, params, headers, sink) -> CappedBody:
    for _ in range(MAX_REDIRECTS + 1):
        # Each read may block for the whole timeout, so no timeout may outlast the deadline.
        timeout = httpx.Timeout(max(0.001, min(request_timeout_s, deadline.remaining())))
        with client.stream(method, url, params=params, headers=headers, timeout=timeout) as response:
            if response.status_code in REDIRECT_STATUS:
                url, params = _redirect_target(response, what), None
                continue
            if response.status_code in RETRY_STATUS:
                raise _Transient(f"HTTP {response.status_code}")
            content_type = response.headers.get("content-type", "")
            if response.status_code != 200:
                return CappedBody(response.status_code, content_type, _read_some(response, ERROR_BODY_BYTES, deadline))
            _check_announced_length(response, max_bytes, what)
            if sink is not None:
                sink.seek(0)
                sink.truncate()
            body = _read_capped(response, max_bytes, deadline, what, sink)
            return CappedBody(200, content_type, body)
    raise RemoteError(f"{what} redirected more than {MAX_REDIRECTS} times")


def _redirect_target(response: httpx.Response, what: str) -> str:
    """The redirect's target, if it stays within the origin asked: a gateway is trusted to name its own URLs, not others'."""
    location = response.headers.get("location", "")
    target = response.url.join(location)
    if (target.scheme, target.host, target.port) != (response.url.scheme, response.url.host, response.url.port):
        raise RemoteError(
            f"{what} redirected to {target.scheme}://{target.host}{':' + str(target.port) if target.port else ''}, "
            "another origin; redirects are followed only within the same scheme, host and port"
        )
    return str(target)


def _check_announced_length(response: httpx.Response, max_bytes: int, what: str) -> None:
    announced = response.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > max_bytes:
        raise RemoteError(f"{what} announced {announced} bytes, more than the {max_bytes} bytes this read allows")


def _read_capped(response: httpx.Response, max_bytes: int, deadline: Deadline, what: str, sink: BinaryIO | None) -> bytes:
    # iter_raw: the bytes as sent, never decompressed here (a compressed body would
    # expand past the cap before it could be counted, and must match its CID as sent).
    # No chunk size: a sized iterator waits to fill each chunk, and a trickle never would.
    parts: list[bytes] = []
    received = 0
    for chunk in _raw_chunks(response):
        received += len(chunk)
        if received > max_bytes:
            raise RemoteError(f"{what} sent more than the {max_bytes} bytes this read allows")
        if sink is not None:
            sink.write(chunk)
        else:
            parts.append(chunk)
        deadline.check()
    return b"".join(parts)


def _read_some(response: httpx.Response, limit: int, deadline: Deadline) -> bytes:
    parts, received = [], 0
    for chunk in _raw_chunks(response):
        parts.append(chunk)
        received += len(chunk)
        if received >= limit or deadline.expired():
            break
    return b"".join(parts)[:limit]


def _raw_chunks(response: httpx.Response):
    """The body as the network delivers it; a response built in memory (a mock transport's) is already read."""
    if response.is_stream_consumed:
        return iter([response.content])
    return response.iter_raw()
