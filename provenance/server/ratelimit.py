"""Per-client rate limiting: a token bucket per client address.

Each client may make `burst` requests at once and `per_minute` a minute on
average; past that it gets HTTP 429 with Retry-After. Buckets live in memory
(one server process) and the table is bounded: the longest-idle clients are
forgotten first, and a forgotten client simply starts with a full bucket.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

MAX_CLIENTS = 10_000


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    def __init__(self, per_minute: float, burst: int, clock=time.monotonic):
        self.rate = per_minute / 60.0
        self.burst = max(1, burst)
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, client: str) -> float:
        """0 if `client` may go ahead now (one token taken), else the seconds until it may."""
        if not self.enabled:
            return 0.0
        now = self.clock()
        bucket = self._buckets.pop(client, None) or _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        self._buckets[client] = bucket  # most recently seen last
        while len(self._buckets) > MAX_CLIENTS:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate


class RateLimitMiddleware:
    """Plain ASGI middleware: HTTP 429 before the app sees a request over its client's budget.

    Not Starlette's `@app.middleware("http")`, which wraps every request and
    response in extra tasks and queues: under load that cost more CPU than
    the limiter itself (issue 17's load goal).
    """

    def __init__(self, app, limiter: RateLimiter, refusal, unlimited: tuple[str, ...] = ()):
        self.app, self.limiter, self.refusal, self.unlimited = app, limiter, refusal, unlimited

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and self.limiter.enabled and not scope.get("path", "").startswith(self.unlimited):
            client = scope.get("client")
            wait = self.limiter.take(client[0] if client else "unknown")
            if wait > 0:
                await self.refusal(wait)(scope, receive, send)
                return
        await self.app(scope, receive, send)
