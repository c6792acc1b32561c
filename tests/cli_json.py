"""Reading the JSON envelope every `--json` prints (docs/cli.md)."""

from __future__ import annotations

import json
from typing import Any

ENVELOPE_KEYS = {"schema_version", "command", "ok", "exit_code", "status", "errors"}


def envelope(stdout: str, command: str | None = None) -> dict[str, Any]:
    """The envelope on `stdout`, its shape checked (and its command path, when given)."""
    doc = json.loads(stdout)  # a ValueError when stdout is not JSON, as for any shape problem below
    if not (isinstance(doc, dict) and ENVELOPE_KEYS <= doc.keys()):
        raise ValueError(f"not the JSON envelope: {stdout[:500]}")
    if doc["schema_version"] != 1 or doc["ok"] is not (doc["exit_code"] == 0) or ("files" in doc) == ("result" in doc):
        raise ValueError(f"malformed envelope: {doc}")
    if command is not None and doc["command"] != command:
        raise ValueError(f"envelope of {doc['command']!r}, not {command!r}")
    return doc


def files(stdout: str) -> list[dict[str, Any]]:
    """The per-file objects of a per-file command (mint, verify, detect, hash, reattest)."""
    return envelope(stdout)["files"]


def result(stdout: str) -> Any:
    """The one result of a single-result command (chain ..., show, ledger list, ipfs ..., ...)."""
    return envelope(stdout)["result"]


def error(stdout: str) -> str:
    """The message of a command's first error."""
    return envelope(stdout)["errors"][0]["message"]
