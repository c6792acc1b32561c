"""A client of the IPFS Pinning Service API v1 (Bearer token, `/pins`).

`pin_and_wait` asks the service to pin a CID, giving our node's addresses as
origins so it can fetch the content directly, then polls the request until
the service reports `pinned` or `failed`.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from provenance.ipfs.cid import parse_cid
from provenance.ipfs.errors import NotFound, RemoteError
from provenance.ipfs.http import RetryPolicy, send_with_retries

STATUSES = ("queued", "pinning", "pinned", "failed")


@dataclass(frozen=True)
class PinStatus:
    requestid: str
    status: str
    cid: str
    name: str = ""
    delegates: tuple[str, ...] = ()
    info: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, doc: dict, service: str) -> "PinStatus":
        try:
            status = doc["status"]
            pin = doc["pin"]
            if status not in STATUSES:
                raise ValueError(status)
            return cls(
                requestid=str(doc["requestid"]),
                status=status,
                cid=str(parse_cid(pin["cid"])),
                name=pin.get("name") or "",
                delegates=tuple(doc.get("delegates") or ()),
                info=doc.get("info") or {},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RemoteError(f"pinning service {service} sent a malformed PinStatus ({exc})") from None


class PinningService:
    def __init__(
        self,
        endpoint: str,
        token: str,
        *,
        timeout_s: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.retry = retry
        self._client = httpx.Client(
            base_url=self.endpoint, headers={"Authorization": f"Bearer {token}"}, timeout=timeout_s, transport=transport
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "PinningService":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs) -> httpx.Response:
        response = send_with_retries(lambda: self._client.request(method, path, **kwargs), self.retry, f"pinning service {self.endpoint}")
        if response.status_code == 404:
            raise NotFound(path.rsplit("/", 1)[-1], f"pinning service {self.endpoint}")
        if response.status_code >= 400:
            try:
                reason = response.json()["error"]["reason"]
            except (ValueError, KeyError, TypeError):
                reason = response.text[:200]
            raise RemoteError(f"pinning service {self.endpoint} {method} {path}: HTTP {response.status_code} {reason}")
        return response

    def add(self, cid: str, *, name: str = "", origins: list[str] | None = None, meta: dict | None = None) -> PinStatus:
        body: dict = {"cid": str(parse_cid(cid))}
        if name:
            body["name"] = name
        if origins:
            body["origins"] = list(origins)
        if meta:
            body["meta"] = {str(k): str(v) for k, v in meta.items()}
        return PinStatus.from_json(self._request("POST", "/pins", json=body).json(), self.endpoint)

    def get(self, requestid: str) -> PinStatus:
        return PinStatus.from_json(self._request("GET", f"/pins/{requestid}").json(), self.endpoint)

    def list(self, *, cids: list[str] | None = None, status: tuple[str, ...] = ("pinned",), limit: int = 1000) -> list[PinStatus]:
        params: dict = {"status": ",".join(status), "limit": str(limit)}
        if cids:
            params["cid"] = ",".join(str(parse_cid(c)) for c in cids)
        doc = self._request("GET", "/pins", params=params).json()
        return [PinStatus.from_json(item, self.endpoint) for item in doc.get("results") or []]

    def remove(self, requestid: str) -> None:
        self._request("DELETE", f"/pins/{requestid}")

    def pin_and_wait(
        self,
        cid: str,
        *,
        name: str = "",
        origins: builtins.list[str] | None = None,  # `list` in this class is the method above
        meta: dict | None = None,
        timeout_s: float = 600.0,
        poll_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_status: Callable[[PinStatus], None] | None = None,
    ) -> PinStatus:
        """Request a pin and poll until it is pinned; raise `RemoteError` if it fails or times out.

        `on_status` sees every status the service reports, for progress display.
        """
        status = self.add(cid, name=name, origins=origins, meta=meta)
        deadline = clock() + timeout_s
        delay = poll_s
        while True:
            if on_status is not None:
                on_status(status)
            if status.status not in ("queued", "pinning"):
                break
            if clock() >= deadline:
                raise RemoteError(
                    f"pinning service {self.endpoint} did not pin {cid} within {timeout_s:g} s "
                    f"(last status {status.status}; request {status.requestid} is still open there)"
                )
            sleep(delay)
            delay = min(delay * 1.5, 30.0)
            status = self.get(status.requestid)
        if status.status == "failed":
            raise RemoteError(f"pinning service {self.endpoint} failed to pin {cid}: {status.info or 'no reason given'}")
        return status
