#!/usr/bin/env bash
# The demo, on the embedded defaults: a local chain, the embedded IPFS store
# and SQLite under $PROVENANCE_HOME. Certify a sample image, then verify the
# original (verified), a re-encoded copy (modified) and an unrelated image
# (not_found).
set -euo pipefail
cd "$(dirname "$0")/.."
P=.venv/bin/provenance
SAMPLES="$PROVENANCE_HOME/samples"
echo "== data under PROVENANCE_HOME=$PROVENANCE_HOME"
.venv/bin/python scripts/make_samples.py "$SAMPLES"
# The demo home is disposable: a chain left there by an older version of the
# registry (its code no longer matches) is replaced rather than refused.
$P chain up || { echo "(replacing the demo home's chain from an older registry)"; $P chain up --redeploy; }
trap '$P chain down >/dev/null' EXIT
echo; echo "== certify $SAMPLES/original.png"
$P mint "$SAMPLES/original.png" --name "Demo landscape" --description "Sample image certified by make demo"
for f in original.png reencoded.jpg unrelated.png; do
  echo; echo "== verify $f"
  set +e; $P verify "$SAMPLES/$f"; code=$?; set -e
  echo "(exit code $code)"
done
echo
echo "== the web page: run  PROVENANCE_HOME=$PROVENANCE_HOME $P chain up && PROVENANCE_HOME=$PROVENANCE_HOME $P serve"
echo "   then open http://127.0.0.1:8000/ and drop $SAMPLES/reencoded.jpg on it (API: docs/api.md)"
