#!/usr/bin/env bash
# Benchmark of big-layer upload throughput (issue 22): `cargo xtask push` of one image with
# 4 layers of BLOB_MB MiB (default 79, random so nothing compresses or dedups), against the
# peer that sets the floor: 4 parallel monolithic `curl -T` PUTs of the same 4 blobs, in the
# same run, each side into its own fresh docker-registry (plain HTTP on 127.0.0.1).
#
#   scripts/bench-big-blobs.sh          (run from anywhere; needs docker-registry, curl, git)
#
# STEVEDORE_CHUNK_SIZE is passed on (blobs over it go in resumable chunks; default 64MiB).
# ROUNDS (default 3) alternates the two sides that many times, fresh registries every round,
# and prints every round's ratio and the median. Goal: stevedore ≤ 1.1× the curl time.
# BENCH_DIR keeps the work directory.
set -euo pipefail

BLOB_MB=${BLOB_MB:-79}
ROUNDS=${ROUNDS:-3}
# shellcheck source=bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"
bench_setup bench-big-blobs

echo "== building the xtask binary (dev profile, as \`cargo xtask\` runs it)"
cargo build -q -p xtask --manifest-path "$ROOT/Cargo.toml"
XTASK=$CARGO_TARGET_DIR/debug/xtask

bench_workspace "$WORK/ws"

echo "== generating 4 layers of $BLOB_MB MiB"
LAYERS=()
for _ in 1 2 3 4; do
  head -c $((BLOB_MB * 1048576)) /dev/urandom > "$WORK/tmp"
  LAYERS+=("$(blob "$WORK/tmp")")
done
diff_ids=""
layers_json=""
for l in "${LAYERS[@]}"; do
  diff_ids="$diff_ids${diff_ids:+,}\"sha256:$l\""
  layers_json="$layers_json${layers_json:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$l\",\"size\":$(size_of "$l")}"
done
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[%s]}}' "$diff_ids" > "$WORK/tmp"
cfg=$(blob "$WORK/tmp")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
  "$cfg" "$(size_of "$cfg")" "$layers_json" > "$WORK/tmp"
man=$(blob "$WORK/tmp")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"}}]}' \
  "$man" "$(size_of "$man")" > "$WORK/tmp"
idx=$(blob "$WORK/tmp")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"big:1.0.0"}}]}\n' \
  "$idx" "$(size_of "$idx")" > "$LAYOUT/index.json"

export DOCKER_CONFIG=$WORK/no-docker-config
export CI=1

# curl_put REGISTRY DIGEST: one monolithic upload (POST, then PUT of the whole blob).
curl_put() {
  local loc sep
  loc=$(curl -sf -D - -o /dev/null -X POST "http://$1/v2/curl/blobs/uploads/" \
    | awk 'tolower($1) == "location:" { print $2 }' | tr -d '\r')
  case $loc in http*) ;; *) loc="http://$1$loc" ;; esac
  case $loc in *\?*) sep='&' ;; *) sep='?' ;; esac
  curl -sf -o /dev/null -T "$LAYOUT/blobs/sha256/$2" -H 'Content-Type: application/octet-stream' \
    "$loc${sep}digest=sha256:$2"
}

# write_config REGISTRY: images/release.toml publishing the one image there, tag 1.0.0.
write_config() {
  {
    echo '[release]'
    echo 'name = "bench"'
    echo "registries = [\"$1/bench\"]"
    echo 'platforms = ["linux/amd64"]'
    echo 'tags = ["type=semver,pattern={{version}}"]'
    echo 'latest = "false"'
    echo '[images.big]'
    echo 'native = { files = [{ src = "files/hello.txt", dst = "/hello.txt" }] }'
  } > "$WS/images/release.toml"
}

# The blobs were written by hand, so stevedore checks each one's digest once before its first
# upload (a build stamps the blobs it writes): a warm-up push, not timed, does that.
WARM=$(start_registry "$WORK/registries/warm-up" quiet)
write_config "$WARM"
bench_commit "$WS" v1.0.0
"$XTASK" -C "$WS" push > /dev/null 2> "$WORK/warm-up.log" || { cat "$WORK/warm-up.log" >&2; exit 1; }
stop_registries "$WORK/registries"
rm -rf "$WORK/registries"

RATIOS=()
for round in $(seq 1 "$ROUNDS"); do
  CURL_REG=$(start_registry "$WORK/registries/curl-$round" quiet)
  ST_REG=$(start_registry "$WORK/registries/stevedore-$round" quiet)
  rm -rf "$WS/.git" "$WS/target/stevedore/state"
  write_config "$ST_REG"
  bench_commit "$WS" v1.0.0

  t0=$(now)
  pids=()
  for l in "${LAYERS[@]}"; do
    curl_put "$CURL_REG" "$l" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  t1=$(now)
  T_CURL=$(secs "$t0" "$t1")

  t0=$(now)
  "$XTASK" -C "$WS" push > "$WORK/push-$round.out" 2> "$WORK/push-$round.log" \
    || { cat "$WORK/push-$round.log" >&2; exit 1; }
  t1=$(now)
  T_ST=$(secs "$t0" "$t1")

  got=$(curl -sf -o /dev/null -w '%{http_code}' -I \
    -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$ST_REG/v2/bench/big/manifests/1.0.0")
  [ "$got" = 200 ] || { echo "stevedore's push left no big:1.0.0 (HTTP $got)" >&2; exit 1; }

  r=$(ratio "$T_ST" "$T_CURL")
  RATIOS+=("$r")
  printf '  round %s: 4 parallel curl PUTs %6ss   stevedore push %6ss   ratio %s\n' \
    "$round" "$T_CURL" "$T_ST" "$r"
  stop_registries "$WORK/registries"
  rm -rf "$WORK/registries"
done

MEDIAN=$(printf '%s\n' "${RATIOS[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
echo
echo "== result: 4 × $BLOB_MB MiB, stevedore push / 4 parallel curl PUTs, median of $ROUNDS: $MEDIAN (goal <= 1.1)"
