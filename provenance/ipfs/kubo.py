"""A content store on a Kubo node (or IPFS Cluster) through its RPC API, `/api/v0`.

A thin client on httpx rather than `ipfshttpclient`: that package (last
release 0.7.0, 2021) refuses every daemon >= 0.8 in `connect()`, always sends
`raw-leaves`, and passes `strict=True` to urllib3. Nothing the node says is
trusted: every CID it returns from an add is compared with our own
computation, and every block read back is verified against its CID.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from provenance.config import redact_url
from provenance.ipfs.cid import Cid, parse_cid
from provenance.ipfs.dag import iter_dag, iter_file
from provenance.ipfs.errors import IpfsError, NotFound, RemoteError
from provenance.ipfs.hashing import cid_of_file
from provenance.ipfs.http import RetryPolicy, fetch_capped, send_with_retries
from provenance.ipfs.importer import import_stream
from provenance.ipfs.limits import DEFAULT_LIMITS, MAX_BLOCK_BYTES, Deadline, FetchLimits
from provenance.ipfs.profile import ImportProfile
from provenance.ipfs.store import AddResult, canonical_json

_MISSING_HINTS = ("not found", "timed out", "is not pinned", "not pinned")


class KuboStore:
    def __init__(
        self,
        api_url: str,
        *,
        auth: str = "",
        timeout_s: float = 60.0,
        lookup_timeout_s: float = 10.0,
        retry: RetryPolicy = RetryPolicy(),
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        # Messages and reprs name the node without any credentials in its URL.
        self.where = redact_url(self.api_url)
        self.timeout_s = timeout_s
        self.lookup_timeout_s = lookup_timeout_s
        self.retry = retry
        headers = {"Authorization": auth} if auth else {}
        self._client = httpx.Client(base_url=f"{self.api_url}/api/v0", headers=headers, timeout=timeout_s, transport=transport)

    def __repr__(self) -> str:
        return f"KuboStore({self.where})"

    def close(self) -> None:
        self._client.close()

    # -- transport --------------------------------------------------------------

    def __enter__(self) -> "KuboStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(
        self, command: str, params: dict | None = None, *, upload: tuple[str, Callable[[], BinaryIO]] | None = None
    ) -> httpx.Response:
        """POST an RPC command; `upload` is (file name, opener) of a body sent as multipart."""

        def send() -> httpx.Response:
            if upload is None:
                return self._client.post(f"/{command}", params=params)
            name, opener = upload
            with opener() as stream:  # reopened on each attempt, so a retry resends from the start
                files = {"file": (name, stream, "application/octet-stream")}
                return self._client.post(f"/{command}", params=params, files=files)

        response = send_with_retries(send, self.retry, f"IPFS node {self.where} /{command}")
        if response.status_code != 200:
            raise self._error(command, params, response)
        return response

    def _error(self, command: str, params: dict | None, response: httpx.Response) -> IpfsError:
        try:
            message = response.json().get("Message", "")
        except ValueError:
            message = response.text[:200]
        arg = (params or {}).get("arg", "")
        if arg and any(hint in message.lower() for hint in _MISSING_HINTS):
            return NotFound(str(arg), f"the IPFS node at {self.where} ({message})")
        return RemoteError(f"IPFS node {self.where} /{command} failed (HTTP {response.status_code}): {message}")

    def _timeout_param(self) -> str:
        return f"{self.lookup_timeout_s:g}s"

    # -- adding -------------------------------------------------------------------

    def _add(
        self, open_stream: Callable[[], BinaryIO], name: str, profile: ImportProfile, expected: Cid, size: int, pin: bool
    ) -> AddResult:
        params = {
            "cid-version": str(profile.cid_version),
            "raw-leaves": "true" if profile.raw_leaves else "false",
            "chunker": profile.chunker,
            "hash": profile.hash,
            "trickle": "false",
            "pin": "true" if pin else "false",
            "progress": "false",
            "quieter": "true",
        }
        if profile.cid_version == 1:
            params["cid-base"] = "base32"

        response = self._call("add", params, upload=(name, open_stream))
        lines = [line for line in response.text.splitlines() if line.strip()]
        try:
            returned = json.loads(lines[-1])["Hash"]
        except (IndexError, ValueError, KeyError, TypeError):
            raise RemoteError(f"IPFS node {self.where} answered add with no CID") from None
        if parse_cid(returned) != expected:
            raise RemoteError(
                f"IPFS node {self.where} returned CID {returned} for {name}, but its content addresses to "
                f"{expected}; the node's import settings differ or it altered the data"
            )
        return AddResult(str(expected), size, profile)

    def add_bytes(self, data: bytes, *, cid_version: int = 1, pin: bool = True) -> AddResult:
        profile = ImportProfile.for_version(cid_version)
        expected = import_stream(io.BytesIO(data), profile).cid
        return self._add(lambda: io.BytesIO(data), "data", profile, expected, len(data), pin)

    def add_file(self, path: Path, *, cid_version: int = 1, progress=None, pin: bool = True) -> AddResult:
        path = Path(path)
        profile = ImportProfile.for_version(cid_version)
        expected = parse_cid(cid_of_file(path, profile=profile, progress=progress))
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise IpfsError(f"cannot read {path}: {exc.strerror}") from None
        return self._add(lambda: open(path, "rb"), path.name, profile, expected, size, pin)

    def add_json(self, obj: Any, *, pin: bool = True) -> AddResult:
        return self.add_bytes(canonical_json(obj), cid_version=1, pin=pin)

    # -- reading --------------------------------------------------------------------

    def get_block(self, cid: Cid) -> bytes:
        """One block, read only up to the largest block size and checked against its CID."""
        params = {"arg": str(cid), "timeout": self._timeout_param()}
        what = f"IPFS node {self.where} /block/get {cid}"
        body = fetch_capped(
            self._client,
            "POST",
            "/block/get",
            what=what,
            max_bytes=MAX_BLOCK_BYTES,
            params=params,
            deadline=Deadline.after(self.timeout_s + self.lookup_timeout_s, what),
            retry=self.retry,
            request_timeout_s=self.timeout_s,
        )
        if body.status_code != 200:
            raise self._error("block/get", params, httpx.Response(body.status_code, content=body.content))
        cid.verify(body.content, f"the IPFS node at {self.where}")
        return body.content

    def iter_cat(self, cid: str, *, limits: FetchLimits | None = None) -> Iterator[bytes]:
        """The file's bytes block by block, within `limits` (bounded defaults: see `FetchLimits`)."""
        limits = limits or DEFAULT_LIMITS
        return iter_file(parse_cid(cid), self.get_block, limits, Deadline.after(limits.deadline_s, f"reading {cid}"))

    def cat(self, cid: str, *, limits: FetchLimits | None = None) -> bytes:
        return b"".join(self.iter_cat(cid, limits=limits))

    def has(self, cid: str) -> bool:
        try:
            self._call("block/stat", {"arg": str(parse_cid(cid)), "offline": "true", "timeout": self._timeout_param()})
        except NotFound:
            return False
        return True

    def verify(self, cid: str, *, limits: FetchLimits | None = None) -> None:
        deadline = Deadline.after((limits or DEFAULT_LIMITS).deadline_s, f"verifying {cid}")
        for _ in iter_dag(parse_cid(cid), self.get_block):
            deadline.check()

    # -- pins ---------------------------------------------------------------------------

    def pin(self, cid: str) -> None:
        self._call("pin/add", {"arg": str(parse_cid(cid)), "recursive": "true", "timeout": self._timeout_param()})

    def unpin(self, cid: str) -> None:
        self._call("pin/rm", {"arg": str(parse_cid(cid)), "recursive": "true"})

    def pins(self) -> list[str]:
        keys = self._call("pin/ls", {"type": "recursive"}).json().get("Keys") or {}
        # Nodes print CIDv1 in their own base (js-ipfs: base58); normalise to ours.
        return sorted(str(parse_cid(key)) for key in keys)

    # -- node ------------------------------------------------------------------------------

    def import_car(self, car_path: Path, *, pin: bool = True) -> list[str]:
        """Send a CAR to the node (`dag import`); return the roots it reports."""
        params = {"pin-roots": "true" if pin else "false"}
        try:
            Path(car_path).stat()
        except OSError as exc:
            raise IpfsError(f"cannot read CAR {car_path}: {exc.strerror}") from None
        response = self._call("dag/import", params, upload=("car", lambda: open(car_path, "rb")))
        roots = []
        for line in response.text.splitlines():
            if line.strip():
                root = json.loads(line).get("Root")
                if root:
                    if root.get("PinErrorMsg"):
                        raise RemoteError(f"IPFS node {self.where} could not pin {root['Cid']['/']}: {root['PinErrorMsg']}")
                    roots.append(str(parse_cid(root["Cid"]["/"])))
        return roots

    def version(self) -> str:
        return str(self._call("version").json().get("Version", ""))

    def addresses(self) -> list[str]:
        """The node's swarm multiaddrs, each ending in /p2p/<peer id>, for pinning services to use as origins."""
        identity = self._call("id").json()
        found = list(identity.get("Addresses") or [])
        if not found:  # js-ipfs leaves `id` empty; the swarm still reports where it listens
            found = list(self._call("swarm/addrs/local", {"id": "true"}).json().get("Strings") or [])
        peer = identity.get("ID") or ""
        return [a if "/p2p/" in a or not peer else f"{a}/p2p/{peer}" for a in found]
