"""Fixed-size chunks of a stream, read into two reused buffers so memory stays constant."""

from __future__ import annotations

from typing import Protocol


class ReadInto(Protocol):
    """A binary stream that fills a caller's buffer (files, sockets, BytesIO)."""

    def readinto(self, buffer: memoryview, /) -> int | None: ...


def fill(stream: ReadInto, buf: memoryview) -> int:
    """Read until `buf` is full or the stream ends; return the bytes read."""
    filled = 0
    while filled < len(buf):
        n = stream.readinto(buf[filled:])
        if not n:
            break
        filled += n
    return filled


class ChunkReader:
    """Reads one chunk ahead, so `done` is known before each chunk is taken."""

    def __init__(self, stream: ReadInto, chunk_size: int) -> None:
        self._stream = stream
        self._buffers = [memoryview(bytearray(chunk_size)), memoryview(bytearray(chunk_size))]
        self._current = 0
        self._ahead = fill(stream, self._buffers[0])

    @property
    def done(self) -> bool:
        return self._ahead == 0

    def next(self) -> memoryview:
        """The next chunk; valid only until the following call."""
        chunk = self._buffers[self._current][: self._ahead]
        self._current ^= 1
        self._ahead = fill(self._stream, self._buffers[self._current]) if self._ahead == len(self._buffers[self._current ^ 1]) else 0
        return chunk
