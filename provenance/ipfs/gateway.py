"""Retrieval from HTTP gateways as a fallback, trusting nothing a gateway sends.

A trustless gateway (`/ipfs/{cid}?format=car`) returns the whole DAG as a
CAR; every block is verified against its CID and the DAG is walked from the
root, so wrong, missing or extra bytes are an error naming the CID. If a
gateway cannot serve a CAR, blocks are fetched one by one (`?format=raw`).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import TypeVar

import httpx

from provenance.ipfs.car import iter_sections, read_header
from provenance.ipfs.cid import Cid, parse_cid
from provenance.ipfs.dag import GetBlock, iter_dag, iter_file
from provenance.ipfs.errors import BlockMismatch, CorruptCar, IpfsError, NotFound, RemoteError, StoreUnavailable
from provenance.ipfs.http import RetryPolicy, send_with_retries

CAR_TYPE = "application/vnd.ipld.car"
RAW_TYPE = "application/vnd.ipld.raw"

T = TypeVar("T")


class GatewayFetcher:
    def __init__(
        self,
        gateways: Iterable[str],
        *,
        timeout_s: float = 60.0,
        retry: RetryPolicy = RetryPolicy(attempts=2),
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.gateways = [g.rstrip("/") for g in gateways]
        self.retry = retry
        self._client = httpx.Client(timeout=timeout_s, transport=transport, follow_redirects=True)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "GatewayFetcher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _get(self, url: str, accept: str) -> httpx.Response:
        return send_with_retries(lambda: self._client.get(url, headers={"Accept": accept}), self.retry, f"gateway {url}")

    def cat(self, cid: str) -> bytes:
        """The file's bytes from the first gateway that serves them intact.

        A gateway that sends bytes not matching the CID raises `BlockMismatch` at
        once: wrong data is a fault to report, not a reason to try elsewhere.
        """
        root = parse_cid(cid)
        return self._first(root, lambda gateway: b"".join(iter_file(root, self._block_source(gateway, root))))

    def verify(self, cid: str) -> None:
        """Fetch the whole DAG under `cid` from the first gateway that has it, checking every block."""
        root = parse_cid(cid)

        def walk(gateway: str) -> None:
            for _ in iter_dag(root, self._block_source(gateway, root)):
                pass

        self._first(root, walk)

    def has(self, cid: str) -> bool:
        """Whether some gateway serves the root block (verified, like every block read here)."""
        root = parse_cid(cid)
        try:
            self._first(root, lambda gateway: self._raw_block(gateway, root))
        except NotFound:
            return False
        return True

    def _first(self, root: Cid, use: Callable[[str], T]) -> T:
        """`use(gateway)` for the first gateway that can serve `root`; NotFound listing every failure."""
        if not self.gateways:
            raise NotFound(str(root), "any gateway (none configured)")
        failures = []
        for gateway in self.gateways:
            try:
                return use(gateway)
            except (NotFound, RemoteError, StoreUnavailable) as exc:
                failures.append(str(exc))
        raise NotFound(str(root), "any configured gateway: " + "; ".join(failures))

    def _block_source(self, gateway: str, root: Cid) -> GetBlock:
        """The DAG as one CAR if the gateway can send it, else block by block (`?format=raw`)."""
        response = self._get(f"{gateway}/ipfs/{root}?format=car", CAR_TYPE)
        if response.status_code == 200 and response.headers.get("content-type", "").startswith(CAR_TYPE):
            blocks = self._blocks_from_car(gateway, root, response.content)
            return lambda cid: _take(blocks, cid, gateway)
        if response.status_code == 404:
            raise NotFound(str(root), f"gateway {gateway}")
        return lambda cid: self._raw_block(gateway, cid)

    def _blocks_from_car(self, gateway: str, root: Cid, body: bytes) -> dict[bytes, bytes]:
        source = f"gateway {gateway}"
        stream = io.BytesIO(body)
        blocks = {}
        try:
            read_header(stream)
            for cid, block in iter_sections(stream, source):
                blocks[cid.to_bytes()] = block
        except CorruptCar as exc:
            raise RemoteError(f"{source} sent a malformed CAR for {root}: {exc}") from None
        except IpfsError as exc:
            if isinstance(exc, BlockMismatch):
                raise
            raise RemoteError(f"{source} sent a bad CAR for {root}: {exc}") from None
        return blocks

    def _raw_block(self, gateway: str, cid: Cid) -> bytes:
        response = self._get(f"{gateway}/ipfs/{cid}?format=raw", RAW_TYPE)
        if response.status_code == 404:
            raise NotFound(str(cid), f"gateway {gateway}")
        if response.status_code != 200:
            raise RemoteError(f"gateway {gateway} answered HTTP {response.status_code} for {cid}")
        cid.verify(response.content, f"gateway {gateway}")
        return response.content


def _take(blocks: dict[bytes, bytes], cid: Cid, gateway: str) -> bytes:
    block = blocks.get(cid.to_bytes())
    if block is None:
        raise RemoteError(f"gateway {gateway} sent a CAR without block {cid}")
    return block
