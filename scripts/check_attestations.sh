#!/usr/bin/env bash
# Checks stevedore's attestations with independent tools: the SPDX SBOMs (of this workspace's
# own binary and of a synthetic graph) with `pyspdxtools` (PyPI spdx-tools), and a signed
# Sigstore bundle with Python `cryptography` and only the public key (scripts/verify_dsse.py),
# including that a tampered payload is refused. With in-toto-attestation, securesystemslib and
# sigstore-models installed it also checks the Statements, the SLSA provenance and the bundles
# against the reference protos/schemas and verifies DSSE with securesystemslib
# (scripts/check_intoto.py). The test key is generated at run time.
#   needs: python3 -m pip install spdx-tools cryptography
#   more:  python3 -m pip install in-toto-attestation securesystemslib sigstore-models
#   (or PYTHON=/path/to/venv/bin/python3)
set -euo pipefail
cd "$(dirname "$0")/.."
py="${PYTHON:-python3}"
if ! "$py" -c 'import spdx_tools, cryptography' 2>/dev/null; then
  echo "check_attestations.sh: needs spdx-tools and cryptography: $py -m pip install spdx-tools cryptography" >&2
  exit 1
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

STEVEDORE_ATTEST_OUT="$out" cargo test --locked -q -p xtask --lib attest::external_check -- --ignored >/dev/null

for sbom in "$out"/*.spdx.json; do
  "$py" -m spdx_tools.spdx.clitools.pyspdxtools -i "$sbom"
  echo "OK $(basename "$sbom"): valid SPDX 2.3 ($(grep -c '"SPDXID"' "$sbom") elements)"
done

for bundle in "$out"/*bundle.json; do
  "$py" scripts/verify_dsse.py "$bundle" "$out/public.pem"
done
"$py" - "$out/bundle.json" "$out/tampered.json" <<'PY'
import base64, json, sys
b = json.load(open(sys.argv[1]))
statement = json.loads(base64.b64decode(b["dsseEnvelope"]["payload"]))
statement["subject"][0]["digest"]["sha256"] = "0" * 64
b["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
json.dump(b, open(sys.argv[2], "w"))
PY
if "$py" scripts/verify_dsse.py "$out/tampered.json" "$out/public.pem" 2>/dev/null; then
  echo "FAIL: a tampered bundle verified" >&2
  exit 1
fi
echo "OK tampered bundle refused"

if "$py" -c 'import in_toto_attestation, securesystemslib, sigstore_models' 2>/dev/null; then
  "$py" scripts/check_intoto.py "$out"
elif [ -n "${CI:-}" ]; then
  echo "FAIL: CI needs the in-toto/Sigstore schema checks: $py -m pip install in-toto-attestation securesystemslib sigstore-models" >&2
  exit 1
else
  echo "SKIP in-toto/Sigstore schema checks: $py -m pip install in-toto-attestation securesystemslib sigstore-models"
fi
