"""Times as people read them: ISO-8601 with the zone (UTC), e.g. 2026-12-05T06:30:00+00:00.

The chain records Unix seconds; every message and human output shows them
through `iso_utc`, so a reader never meets a bare 1796425881.
"""

from __future__ import annotations

from datetime import datetime, timezone


def iso_utc(timestamp: int | float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat(timespec="seconds")
