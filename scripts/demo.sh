#!/usr/bin/env bash
# The demo: a local chain, the embedded IPFS store and SQLite under
# $PROVENANCE_HOME; certify a sample image and verify copies of it.
set -euo pipefail
cd "$(dirname "$0")/.."
P=.venv/bin/provenance
echo "== PROVENANCE_HOME=$PROVENANCE_HOME"
$P chain up
$P chain status
$P chain down
