#!/usr/bin/env bash
# Benchmark of a release's cost as it grows (issue 22): build, push and a no-op push of N images,
# against skopeo in the same run, with the requests each step makes counted from the registries'
# own access logs.
#
#   scripts/bench-scale.sh [N ...]      (default: 4 16 64; run from anywhere)
#
# For every N: N native images × 2 platforms (linux/amd64, linux/arm64) × 4 tags (v1.0.0, 1.0,
# 1, latest) × 2 registries (docker-registry on 127.0.0.1, plain HTTP, fresh storage each run),
# each image with a 1 MiB layer of its own (random, so nothing is shared or compressed away).
#   - build: `xtask build` (the dev-profile binary `cargo xtask` runs);
#   - push: `xtask push`, cold;
#   - no-op push: `xtask push` again, nothing changed;
#   - the peer: `skopeo copy --all` of every image to one tag of one fresh registry (what a
#     maintainer would script), per reference.
# Prints wall times, ms per reference (a reference = image × registry × tag) and the requests
# the registries answered per step: in total, per reference, and against the goal of one request
# per tag per registry plus one per image per registry (N × (T + 1) per registry).
#
# Needs docker-registry, skopeo, curl, git. BENCH_DIR keeps the work directory.
set -euo pipefail

SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(4 16 64)
# shellcheck source=bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"
bench_setup bench-scale
per_ms() { awk -v t="$1" -v n="$2" 'BEGIN { printf "%.1f", t * 1000 / n }'; }

# requests DIR...: how many requests the registries logged (access log lines) so far.
requests() {
  cat "${@/%//log}" | grep -cE '"(GET|HEAD|PUT|POST|PATCH|DELETE) /v2/' || true
}
# breakdown DIR SINCE [DIR SINCE ...]: each registry's requests after its first SINCE, by
# method and kind (manifests, blobs, tags, referrers, other).
breakdown() {
  while [ $# -ge 2 ]; do
    grep -E '"(GET|HEAD|PUT|POST|PATCH|DELETE) /v2/' "$1/log" | tail -n +"$(($2 + 1))" || true
    shift 2
  done \
    | sed -E 's/.*"(GET|HEAD|PUT|POST|PATCH|DELETE) \/v2\/[^ ]*\/(manifests|blobs|referrers|tags)\/.*/\1 \2/; t; s/.*"(GET|HEAD|PUT|POST|PATCH|DELETE) \/v2\/.*/\1 other/' \
    | sort | uniq -c | awk '{ printf "%s%s %s: %s", sep, $2, $3, $1; sep = ", " } END { print "" }'
}

echo "== building the xtask binary (dev profile, as \`cargo xtask\` runs it)"
cargo build -q -p xtask --manifest-path "$ROOT/Cargo.toml"
XTASK=$CARGO_TARGET_DIR/debug/xtask
export DOCKER_CONFIG=$WORK/no-docker-config
export CI=1
unset GITHUB_ACTIONS

RESULTS=()
for N in "${SIZES[@]}"; do
  echo "== $N images × 2 platforms × 4 tags × 2 registries"
  RUN=$WORK/n$N
  R1=$(start_registry "$RUN/reg-a")
  R2=$(start_registry "$RUN/reg-b")
  RS=$(start_registry "$RUN/reg-skopeo")
  WS=$RUN/ws
  mkdir -p "$WS/data" "$WS/images"
  {
    echo '[release]'
    echo 'name = "bench"'
    echo "registries = [\"$R1/bench\", \"$R2/bench\"]"
    echo 'platforms = ["linux/amd64", "linux/arm64"]'
    echo 'tags = ["type=semver,pattern=v{{version}}", "type=semver,pattern={{major}}.{{minor}}", "type=semver,pattern={{major}}"]'
    echo 'latest = "true"'
    for i in $(seq 1 "$N"); do
      head -c 1048576 /dev/urandom > "$WS/data/img$i.bin"
      echo "[images.img$i]"
      echo "native = { files = [{ src = \"data/img$i.bin\", dst = \"/data.bin\" }] }"
    done
  } > "$WS/images/release.toml"
  bench_commit "$WS" v1.0.0
  mapfile -t TAGS < <("$XTASK" -C "$WS" tags | awk '$1 == "tag" { print $2 }')
  T=${#TAGS[@]}
  REFS=$((N * 2 * T))

  t0=$(now)
  "$XTASK" -C "$WS" build > "$RUN/build.out" 2> "$RUN/build.log"
  T_BUILD=$(secs "$t0" "$(now)")

  c0=$(requests "$RUN/reg-a" "$RUN/reg-b")
  t0=$(now)
  "$XTASK" -C "$WS" push > "$RUN/push.out" 2> "$RUN/push.log"
  T_PUSH=$(secs "$t0" "$(now)")
  c1=$(requests "$RUN/reg-a" "$RUN/reg-b")
  a1=$(requests "$RUN/reg-a")
  b1=$(requests "$RUN/reg-b")
  t0=$(now)
  "$XTASK" -C "$WS" push > "$RUN/noop.out" 2> "$RUN/noop.log"
  T_NOOP=$(secs "$t0" "$(now)")
  c2=$(requests "$RUN/reg-a" "$RUN/reg-b")
  Q_PUSH=$((c1 - c0))
  Q_NOOP=$((c2 - c1))
  GOAL=$((2 * N * (T + 1)))

  # The peer: skopeo copies the same images (from stevedore's layout) to one tag of a fresh
  # registry, one invocation per image.
  LAYOUT=$WS/target/stevedore/oci
  mapfile -t NAMES < <(grep -o '"org.opencontainers.image.ref.name": *"[^"]*"' "$LAYOUT/index.json" \
    | sed -E 's/.*: *"([^"]*)"/\1/' | grep -E '^img[0-9]+:' | sort -u)
  t0=$(now)
  for name in "${NAMES[@]}"; do
    skopeo copy --all --quiet --dest-tls-verify=false "oci:$LAYOUT:$name" "docker://$RS/bench/${name%%:*}:${TAGS[0]}"
  done
  T_SKOPEO=$(secs "$t0" "$(now)")
  SK_REFS=${#NAMES[@]}

  echo "   build ${T_BUILD}s; push ${T_PUSH}s ($(per_ms "$T_PUSH" "$REFS") ms/ref, $Q_PUSH requests); no-op ${T_NOOP}s ($Q_NOOP requests, goal <= $GOAL)"
  echo "   no-op requests by kind: $(breakdown "$RUN/reg-a" "$a1" "$RUN/reg-b" "$b1")"
  RESULTS+=("$(printf '%4s %7s %7s %8s %8s %8s %9s %8s %8s %9s' \
    "$N" "$T_BUILD" "$T_PUSH" "$(per_ms "$T_PUSH" "$REFS")" \
    "$(per_ms "$T_SKOPEO" "$SK_REFS")" "$(ratio "$(per_ms "$T_PUSH" "$REFS")" "$(per_ms "$T_SKOPEO" "$SK_REFS")")" \
    "$T_NOOP" "$Q_NOOP" "$GOAL" "$(ratio "$Q_NOOP" "$REFS")")")
  stop_registries "$RUN"
done

echo
echo "== results (2 platforms, 4 tags, 2 registries; a ref = image × registry × tag; skopeo: one image × one tag)"
printf '%4s %7s %7s %8s %8s %8s %9s %8s %8s %9s\n' \
  N build_s push_s ms/ref skopeo_ms ratio noop_s noop_req goal_req req/ref
for r in "${RESULTS[@]}"; do echo "$r"; done
