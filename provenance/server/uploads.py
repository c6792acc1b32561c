"""Receiving an uploaded file: streamed to a private temp file under $PROVENANCE_HOME, never held in memory.

The multipart body is parsed as it arrives (python-multipart's push parser);
the file part's bytes go straight to disk with a counter, and the upload is
refused (HTTP 413) the moment the counter passes the limit, without reading
the rest. A declared Content-Length over the limit is refused before reading
anything.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, AsyncIterator, cast

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from ..errors import ProvenanceError
from ..paths import private_dir

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

# Room for the multipart framing and small form fields on top of the file itself.
FRAMING_ALLOWANCE = 64 * 1024
MAX_FIELD_BYTES = 16 * 1024


class UploadError(ProvenanceError):
    """The request's body cannot be taken: `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Upload:
    path: Path
    filename: str
    size: int
    fields: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def upload_dir(home: Path) -> Path:
    """Where uploads wait while they are checked (and certify jobs wait for the worker): owner-only."""
    private_dir(home)
    return private_dir(home / "uploads")


def human_size(n: int) -> str:
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n} bytes"


class _FilePart:
    """Collects the parts of one multipart body: the file part to disk, small fields in memory."""

    def __init__(self, dest: Path, file_field: str, max_bytes: int):
        self.dest = dest
        self.file_field = file_field
        self.max_bytes = max_bytes
        self.size = 0
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.path: Path | None = None
        self._out: IO[bytes] | None = None
        self._headers: dict[bytes, bytes] = {}
        self._hname = b""
        self._hvalue = b""
        self._field: str | None = None
        self._buf = bytearray()
        self._field_bytes = 0

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_done,
            "on_part_data": self._data,
            "on_part_end": self._end,
        }

    def _begin(self) -> None:
        self._headers, self._field, self._buf = {}, None, bytearray()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._hname += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._hvalue += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._hname.lower()] = self._hvalue
        self._hname, self._hvalue = b"", b""

    def _headers_done(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if name == self.file_field and filename is not None and self._out is None:
            self.filename = os.path.basename(filename.decode("utf-8", "replace").replace("\\", "/")) or "upload"
            fd, path = tempfile.mkstemp(dir=self.dest, prefix="upload-")
            self.path = Path(path)
            self._out = os.fdopen(fd, "wb")
            self._field = None
        else:
            self._field = name

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._field is None:
            if self._out is None:  # a second file part: ignored
                return
            self.size += end - start
            if self.size > self.max_bytes:
                raise UploadError(413, f"upload larger than the limit of {human_size(self.max_bytes)}")
            self._out.write(data[start:end])
        else:
            self._field_bytes += end - start
            if self._field_bytes > MAX_FIELD_BYTES:
                raise UploadError(413, f"form fields larger than {human_size(MAX_FIELD_BYTES)}")
            self._buf += data[start:end]

    def _end(self) -> None:
        if self._field is not None:
            self.fields[self._field] = self._buf.decode("utf-8", "replace")
        elif self._out is not None and not self._out.closed and self.filename is not None:
            self._out.close()

    def close(self) -> None:
        if self._out is not None and not self._out.closed:
            self._out.close()


async def receive_upload(
    headers: dict[str, str],
    body: AsyncIterator[bytes],
    home: Path,
    max_bytes: int,
    *,
    file_field: str = "file",
    deadline_s: float = 120.0,
) -> Upload:
    """Parse a multipart body into a temp file (the `file_field` part) and its small text fields.

    Raises UploadError: 413 over the limit, 415 not multipart, 422 no file part or a broken
    body, 408 when the body takes longer than `deadline_s` to arrive.
    """
    ctype, options = parse_options_header(headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not options.get(b"boundary"):
        raise UploadError(415, "send the file as multipart/form-data in the field 'file' (or JSON with sha256 or token)")
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes + FRAMING_ALLOWANCE:
        raise UploadError(413, f"upload larger than the limit of {human_size(max_bytes)}")
    part = _FilePart(upload_dir(home), file_field, max_bytes)
    parser = MultipartParser(options[b"boundary"], cast("MultipartCallbacks", part.callbacks()))
    try:
        async with asyncio.timeout(deadline_s):
            async for chunk in body:
                parser.write(chunk)
        parser.finalize()
    except TimeoutError:
        _drop(part)
        raise UploadError(408, f"the upload did not arrive within {deadline_s:g} s") from None
    except MultipartParseError as exc:
        _drop(part)
        raise UploadError(422, f"malformed multipart body: {exc}") from None
    except BaseException:
        _drop(part)
        raise
    part.close()
    if part.path is None or part.filename is None:
        raise UploadError(422, f"no file in the form field '{file_field}'")
    return Upload(part.path, part.filename, part.size, part.fields)


def _drop(part: _FilePart) -> None:
    part.close()
    if part.path is not None:
        part.path.unlink(missing_ok=True)
