"""Running the blocking service code from async handlers: a bounded number at once, each under a deadline."""

from __future__ import annotations

import asyncio
from typing import Callable, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter

from .uploads import UploadError

T = TypeVar("T")


class Runner:
    def __init__(self, parallel: int, timeout_s: float):
        self.limiter = CapacityLimiter(max(1, parallel))
        self.timeout_s = timeout_s

    async def __call__(self, fn: Callable[[], T]) -> T:
        """`fn()` in a worker thread; HTTP 504 if it (including its wait for a free slot) takes longer than the deadline.

        The thread cannot be killed: on a timeout it finishes in the background, still
        holding its slot, so an overloaded server answers 504 instead of piling up work.
        """
        try:
            return await asyncio.wait_for(anyio.to_thread.run_sync(fn, limiter=self.limiter, abandon_on_cancel=True), self.timeout_s)
        except TimeoutError:
            raise UploadError(504, f"the request took longer than {self.timeout_s:g} s") from None
