# Shared by the benchmark scripts (sourced): a work directory, real docker-registry instances on
# free loopback ports, and the arithmetic of timings.
#
#   bench_setup NAME   sets WORK (BENCH_DIR, kept; else a temp dir removed on exit), ROOT,
#                      CARGO_TARGET_DIR, and the exit trap that stops every registry started.
#   start_registry runs in a command substitution (a subshell), so each registry's process id
#   is kept in its directory (registry.pid), where stop_registries finds it.

bench_setup() {
  ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
  if [ -n "${BENCH_DIR:-}" ]; then
    WORK=$BENCH_DIR
    rm -rf "$WORK"
    mkdir -p "$WORK"
    KEEP=1
  else
    WORK=$(mktemp -d "/tmp/stevedore-$1.XXXXXX")
    KEEP=
  fi
  trap bench_cleanup EXIT
}

# stop_registries DIR: stops every registry started under DIR.
stop_registries() {
  local f
  while IFS= read -r f; do
    kill "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done < <(find "$1" -name registry.pid 2>/dev/null)
}

bench_cleanup() {
  stop_registries "$WORK"
  [ -n "$KEEP" ] || rm -rf "$WORK"
}

# bench_commit DIR TAG: DIR as a git repository of its files (target/ ignored), one commit,
# tagged TAG.
bench_commit() {
  (
    cd "$1"
    printf 'target/\n' > .gitignore
    git init -q -b main
    git add -A
    git -c user.name=b -c user.email=b@b commit -q -m bench
    git tag "$2"
  )
}

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
}

# start_registry DIR [quiet]: docker-registry on a free port with fresh storage under DIR, its
# output (and access log, unless `quiet`) in DIR/log; prints host:port.
start_registry() {
  local dir=$1 port access=false
  [ "${2:-}" = quiet ] && access=true
  port=$(free_port)
  mkdir -p "$dir/storage"
  cat > "$dir/config.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: $access
storage:
  filesystem:
    rootdirectory: $dir/storage
http:
  addr: 127.0.0.1:$port
YML
  docker-registry serve "$dir/config.yml" > "$dir/log" 2>&1 &
  echo $! > "$dir/registry.pid"
  for _ in $(seq 1 200); do
    if curl -sf -o /dev/null "http://127.0.0.1:$port/v2/"; then
      echo "127.0.0.1:$port"
      return
    fi
    sleep 0.05
  done
  echo "docker-registry in $dir did not start" >&2
  exit 1
}

# bench_workspace DIR: a workspace at DIR with an empty OCI layout (LAYOUT, exported to the
# caller) and one file for native images (files/hello.txt).
bench_workspace() {
  WS=$1
  LAYOUT=$WS/target/stevedore/oci
  mkdir -p "$LAYOUT/blobs/sha256" "$WS/files" "$WS/images"
  printf '{"imageLayoutVersion":"1.0.0"}' > "$LAYOUT/oci-layout"
  echo hello > "$WS/files/hello.txt"
}

# blob FILE: moves FILE into $LAYOUT under its digest; prints the hex digest.
blob() {
  local d
  d=$(sha256sum "$1" | cut -d' ' -f1)
  mv "$1" "$LAYOUT/blobs/sha256/$d"
  echo "$d"
}
size_of() { stat -c %s "$LAYOUT/blobs/sha256/$1"; }
