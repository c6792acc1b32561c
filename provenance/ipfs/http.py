"""HTTP with retries and backoff, shared by the Kubo, pinning-service and gateway clients.

Retries only what is safe to repeat: connection failures, timeouts and
502/503/504 answers. Everything else surfaces at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from provenance.ipfs.errors import StoreUnavailable

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
