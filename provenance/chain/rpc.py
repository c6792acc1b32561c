"""The HTTP JSON-RPC transport, with transport failures turned into chain errors.

web3's HTTPProvider lets `requests` exceptions through (an HTTP 500 from the
node, a dropped connection mid-command); callers only know the ChainError
hierarchy, so those become ChainUnavailable with a message that names the
method and the status, and never the URL's path or query (API keys live there).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
from web3 import HTTPProvider

from .errors import ChainUnavailable


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}"


def _describe(exc: requests.RequestException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(exc, requests.HTTPError) and response is not None:
        return f"HTTP {response.status_code} {response.reason or ''}".strip()
    if isinstance(exc, requests.Timeout):
        return "no answer in time"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed"
    return type(exc).__name__


class GuardedHTTPProvider(HTTPProvider):
    def make_request(self, method, params: Any):
        try:
            return super().make_request(method, params)
        except requests.RequestException as exc:
            raise ChainUnavailable(f"the Ethereum node at {_where(str(self.endpoint_uri))} failed {method}: {_describe(exc)}") from None

    def decode_rpc_response(self, raw_response: bytes):  # type: ignore[override]  # web3 declares it static, yet calls it on the instance
        try:
            return super().decode_rpc_response(raw_response)
        except ValueError:  # a body that is not JSON (a proxy's error page)
            raise ChainUnavailable(
                f"the Ethereum node at {_where(str(self.endpoint_uri))} answered with something that is not JSON-RPC: "
                f"{bytes(raw_response[:80])!r}"
            ) from None

    def make_batch_request(self, batch_requests):
        try:
            return super().make_batch_request(batch_requests)
        except requests.RequestException as exc:
            methods = sorted({m for m, _ in batch_requests})
            raise ChainUnavailable(
                f"the Ethereum node at {_where(str(self.endpoint_uri))} failed a batch of {', '.join(methods)}: {_describe(exc)}"
            ) from None
