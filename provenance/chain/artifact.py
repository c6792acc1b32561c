"""The compiled contract the Python side deploys and talks to.

Hardhat writes its artifacts under `artifacts/` (not committed); the project
commits the ABI and bytecode it needs here so the installed package works
without Node. `python -m provenance.chain.artifact export` refreshes them and a
test checks they equal a fresh Hardhat build.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ABI_DIR = Path(__file__).parent / "abi"
CONTRACTS = ("CertificateRegistry",)


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list
    bytecode: str  # creation code
    runtime: str  # the code a deployment holds (no immutables, so the same at every address)


@cache
def load_artifact(name: str = "CertificateRegistry") -> Artifact:
    data = json.loads((ABI_DIR / f"{name}.json").read_text())
    return Artifact(name=data["contractName"], abi=data["abi"], bytecode=data["bytecode"], runtime=data["deployedBytecode"])


def hardhat_artifact_path(repo: Path, name: str) -> Path:
    return repo / "artifacts" / "contracts" / f"{name}.sol" / f"{name}.json"


def export(repo: Path) -> list[Path]:
    written = []
    for name in CONTRACTS:
        src = json.loads(hardhat_artifact_path(repo, name).read_text())
        if src.get("immutableReferences") or src.get("deployedLinkReferences"):
            # The deployment check compares runtime code byte for byte (deployments.py).
            raise SystemExit(f"{name} has immutables or libraries: its runtime code differs per deployment")
        out = {
            "contractName": src["contractName"],
            "abi": src["abi"],
            "bytecode": src["bytecode"],
            "deployedBytecode": src["deployedBytecode"],
        }
        dest = ABI_DIR / f"{name}.json"
        dest.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
        written.append(dest)
    return written


if __name__ == "__main__":
    if sys.argv[1:] != ["export"]:
        sys.exit("usage: python -m provenance.chain.artifact export")
    for path in export(Path(__file__).resolve().parents[2]):
        print(f"wrote {path}")
