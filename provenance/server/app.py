"""The ASGI application: API, page, static files, limits and error handling around one VerificationService."""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import replace

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ..config import Settings
from . import api, errors, pages
from .calls import Runner
from .options import ServerOptions
from .ratelimit import RateLimiter, RateLimitMiddleware
from .render import STATIC, environment
from .service import VerificationService
from .worker import Worker

# Paths a client may call as often as it likes: the page's assets and the health probe.
UNLIMITED = ("/static/", "/healthz", "/favicon.ico")


def create_app(settings: Settings, options: ServerOptions | None = None, service: VerificationService | None = None) -> FastAPI:
    """The app over `service` (opened from `settings` when not given). The certify worker starts with the app."""
    options = options or ServerOptions(max_upload_bytes=settings.max_upload_bytes)
    service = service or VerificationService(settings)
    worker = Worker(settings) if options.worker else None

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()

    app = FastAPI(
        title="Provenance",
        version="1",
        lifespan=lifespan,
        description="Verify received media against on-chain certificates; certify media with an API key. See docs/api.md.",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.options = options
    app.state.service = service
    app.state.worker = worker
    app.state.runner = Runner(options.max_parallel, options.request_timeout_s)
    app.state.templates = environment()
    limiter = RateLimiter(options.rate_per_minute, options.rate_burst)

    def refusal(wait: float):
        return errors.error_response(
            429,
            f"too many requests: at most {options.rate_per_minute:g} a minute (bursts of {options.rate_burst})",
            {"Retry-After": str(max(1, round(wait)))},
        )

    app.add_middleware(RateLimitMiddleware, limiter=limiter, refusal=refusal, unlimited=UNLIMITED)
    errors.install(app)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def with_upload_limit(settings: Settings, max_upload_bytes: int | None) -> Settings:
    return settings if max_upload_bytes is None else replace(settings, max_upload_bytes=max_upload_bytes)
