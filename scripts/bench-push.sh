#!/usr/bin/env bash
# Benchmark of `cargo xtask push` against `skopeo copy --all`, in one run.
#
#   scripts/bench-push.sh          (run from anywhere; needs docker-registry, skopeo, curl)
#
# Generates a release of 4 images × 2 platforms (about 300 MB of unique, incompressible layer
# data: one base layer per platform shared by all four images, plus one layer of each image's
# own per platform) with 5 tags each, as an OCI layout, and publishes it to 2 local registries
# (plain HTTP on 127.0.0.1, fresh storage each):
#   - cold push: stevedore (one command) vs `skopeo copy --all oci:… docker://…` for every
#     image × registry × tag (what a maintainer would script), each into its own fresh pair of
#     registries;
#   - the registry's own ingest limit: one monolithic `curl -T` PUT of the largest blob into
#     another fresh registry, and stevedore's effective upload rate against it;
#   - a no-op re-push (same release again): wall time and blob uploads;
#   - stevedore's peak RSS during the cold push (`/usr/bin/time -v`).
# Before the timed pushes, one untimed warm-up push stamps the hand-made blobs as checked, as
# a build leaves them.
#
# Environment: BASE_MB (default 30) and OWN_MB (default 30) size the layers:
# unique data = 2·BASE_MB + 8·OWN_MB. BENCH_DIR (default: a temp dir, removed at the end).
set -euo pipefail

BASE_MB=${BASE_MB:-30}
OWN_MB=${OWN_MB:-30}
# shellcheck source=bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"
bench_setup bench-push

mbps() { awk -v bytes="$1" -v t="$2" 'BEGIN { printf "%.0f", bytes / 1048576 / t }'; }

echo "== building the xtask binary (dev profile, as \`cargo xtask\` runs it)"
cargo build -q -p xtask --manifest-path "$ROOT/Cargo.toml"
XTASK=$CARGO_TARGET_DIR/debug/xtask

echo "== starting 5 registries (2 for skopeo, 2 for stevedore, 1 for the ingest probe)"
SK1=$(start_registry "$WORK/registries/skopeo-a" quiet)
SK2=$(start_registry "$WORK/registries/skopeo-b" quiet)
ST1=$(start_registry "$WORK/registries/stevedore-a" quiet)
ST2=$(start_registry "$WORK/registries/stevedore-b" quiet)
ING=$(start_registry "$WORK/registries/ingest" quiet)

IMAGES="api web worker admin"
VERSION=1.2.3
bench_workspace "$WORK/ws"

echo "== generating the layout: 4 images × 2 platforms, $((2 * BASE_MB + 8 * OWN_MB)) MB unique"
declare -A BASE
for arch in amd64 arm64; do
  head -c $((BASE_MB * 1048576)) /dev/urandom > "$WORK/tmp"
  BASE[$arch]=$(blob "$WORK/tmp")
done
index_entries=""
for img in $IMAGES; do
  entries=""
  for arch in amd64 arm64; do
    head -c $((OWN_MB * 1048576)) /dev/urandom > "$WORK/tmp"
    own=$(blob "$WORK/tmp")
    base=${BASE[$arch]}
    printf '{"architecture":"%s","os":"linux","config":{"Labels":{"org.opencontainers.image.title":"%s"}},"rootfs":{"type":"layers","diff_ids":["sha256:%s","sha256:%s"]}}' \
      "$arch" "$img" "$base" "$own" > "$WORK/tmp"
    cfg=$(blob "$WORK/tmp")
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s},{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
      "$cfg" "$(size_of "$cfg")" "$base" "$(size_of "$base")" "$own" "$(size_of "$own")" > "$WORK/tmp"
    man=$(blob "$WORK/tmp")
    entries="$entries${entries:+,}{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$man\",\"size\":$(size_of "$man"),\"platform\":{\"architecture\":\"$arch\",\"os\":\"linux\"}}"
  done
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' "$entries" > "$WORK/tmp"
  idx=$(blob "$WORK/tmp")
  index_entries="$index_entries${index_entries:+,}{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"digest\":\"sha256:$idx\",\"size\":$(size_of "$idx"),\"annotations\":{\"org.opencontainers.image.ref.name\":\"$img:$VERSION\"}}"
done
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}\n' "$index_entries" > "$LAYOUT/index.json"
UNIQUE=$(( (2 * BASE_MB + 8 * OWN_MB) * 1048576 ))
LARGEST=${BASE[amd64]}

# The workspace: 5 tags (v1.2.3, 1.2, 1, latest, sha-…) for every image, 2 registries.
# write_config REGISTRY...: images/release.toml publishing to those registries.
write_config() {
  {
    echo '[release]'
    echo 'name = "bench"'
    printf 'registries = ['
    local sep=""
    for r in "$@"; do printf '%s"%s/bench"' "$sep" "$r"; sep=", "; done
    echo ']'
    echo 'platforms = ["linux/amd64", "linux/arm64"]'
    echo 'tags = ["type=semver,pattern=v{{version}}", "type=semver,pattern={{major}}.{{minor}}", "type=semver,pattern={{major}}", "type=sha"]'
    echo 'latest = "true"'
    for img in $IMAGES; do
      echo "[images.$img]"
      echo 'native = { files = [{ src = "files/hello.txt", dst = "/hello.txt" }] }'
    done
  } > "$WS/images/release.toml"
}
# The blobs were written by hand, so stevedore checks each one's digest once, before its first
# upload (a build stamps the blobs it writes): a warm-up push to a throwaway registry, not
# timed, leaves the layout as a build would.
WARM=$(start_registry "$WORK/registries/warm-up" quiet)
write_config "$WARM"
bench_commit "$WS" v$VERSION
env -u GITHUB_ACTIONS CI=1 DOCKER_CONFIG="$WORK/no-docker-config" "$XTASK" -C "$WS" push \
  > /dev/null 2> "$WORK/warm-up.log" || { cat "$WORK/warm-up.log" >&2; exit 1; }
write_config "$ST1" "$ST2"
git -C "$WS" add -A
git -C "$WS" -c user.name=b -c user.email=b@b commit -q --amend -m bench
git -C "$WS" tag -f "v$VERSION" > /dev/null
mapfile -t TAGS < <(env -u GITHUB_ACTIONS -u CI "$XTASK" -C "$WS" tags | awk '$1 == "tag" { print $2 }')
echo "   tags: ${TAGS[*]}"

export DOCKER_CONFIG=$WORK/no-docker-config
export CI=1

echo "== skopeo: copy --all for every image × registry × tag (${#TAGS[@]} tags)"
t0=$(now)
for img in $IMAGES; do
  for reg in "$SK1" "$SK2"; do
    for tag in "${TAGS[@]}"; do
      skopeo copy --all --quiet --dest-tls-verify=false \
        "oci:$LAYOUT:$img:$VERSION" "docker://$reg/bench/$img:$tag"
    done
  done
done
t1=$(now)
T_SKOPEO=$(secs "$t0" "$t1")
echo "   ${T_SKOPEO}s"

echo "== stevedore: cargo xtask push (cold)"
t0=$(now)
/usr/bin/time -v "$XTASK" -C "$WS" push --metadata-file "$WORK/cold.json" \
  > "$WORK/cold.out" 2> "$WORK/cold.log"
t1=$(now)
T_COLD=$(secs "$t0" "$t1")
RSS_KB=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$WORK/cold.log")
PUSHED_BYTES=$(grep -o '"bytes": [0-9]*' "$WORK/cold.json" | head -1 | grep -o '[0-9]*$')
grep -E '^published' "$WORK/cold.log" | sed 's/^/   /'
echo "   ${T_COLD}s"

echo "== stevedore: no-op re-push"
t0=$(now)
"$XTASK" -C "$WS" push --metadata-file "$WORK/noop.json" > /dev/null 2> "$WORK/noop.log"
t1=$(now)
T_NOOP=$(secs "$t0" "$t1")
NOOP_PUSHED=$(grep -o '"pushed": [0-9]*' "$WORK/noop.json" | head -1 | grep -o '[0-9]*$')
grep -E '^published' "$WORK/noop.log" | sed 's/^/   /'

echo "== registry ingest limit: one monolithic curl PUT of the largest blob"
BIG=$LAYOUT/blobs/sha256/$LARGEST
BIG_BYTES=$(stat -c %s "$BIG")
loc=$(curl -sf -D - -o /dev/null -X POST "http://$ING/v2/ingest/blobs/uploads/" \
  | awk 'tolower($1) == "location:" { print $2 }' | tr -d '\r')
case $loc in http*) ;; *) loc="http://$ING$loc" ;; esac
case $loc in *\?*) sep='&' ;; *) sep='?' ;; esac
t0=$(now)
curl -sf -o /dev/null -T "$BIG" -H 'Content-Type: application/octet-stream' "$loc${sep}digest=sha256:$LARGEST"
t1=$(now)
T_INGEST=$(secs "$t0" "$t1")
INGEST_MBPS=$(mbps "$BIG_BYTES" "$T_INGEST")
EFFECTIVE_MBPS=$(mbps "$PUSHED_BYTES" "$T_COLD")

# Check: every tag in both stevedore registries equals the layout's index.
for img in api worker; do
  want=$(grep -o "sha256:[0-9a-f]*\",\"size\":[0-9]*,\"annotations\":{\"org.opencontainers.image.ref.name\":\"$img:" "$LAYOUT/index.json" | cut -d'"' -f1)
  for reg in "$ST1" "$ST2"; do
    got=$(skopeo inspect --raw --tls-verify=false "docker://$reg/bench/$img:${TAGS[0]}" | sha256sum | cut -d' ' -f1)
    [ "sha256:$got" = "$want" ] || { echo "MISMATCH $reg/bench/$img: $got vs $want" >&2; exit 1; }
  done
done

echo
echo "== results (unique layer data $((UNIQUE / 1048576)) MB; 4 images × 2 platforms × ${#TAGS[@]} tags × 2 registries)"
printf '  %-44s %8ss\n' "skopeo copy --all (per image × registry × tag)" "$T_SKOPEO"
printf '  %-44s %8ss   ratio %s (target <= 0.6)\n' "stevedore push, cold" "$T_COLD" "$(ratio "$T_COLD" "$T_SKOPEO")"
printf '  %-44s %8ss   blob uploads: %s (target < 1 s, 0 uploads)\n' "stevedore push, no-op" "$T_NOOP" "$NOOP_PUSHED"
printf '  %-44s %8s MB/s (%s MB in %ss)\n' "registry ingest, one curl PUT" "$INGEST_MBPS" "$((BIG_BYTES / 1048576))" "$T_INGEST"
printf '  %-44s %8s MB/s (%s MB uploaded) = %s× one-stream ingest\n' "stevedore effective upload rate" "$EFFECTIVE_MBPS" "$((PUSHED_BYTES / 1048576))" "$(ratio "$EFFECTIVE_MBPS" "$INGEST_MBPS")"
printf '  %-44s %8s MB (target < 150)\n' "stevedore peak RSS" "$((RSS_KB / 1024))"
