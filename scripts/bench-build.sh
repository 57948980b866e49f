#!/usr/bin/env bash
# Benchmark of the native builder, against buildah and `tar | gzip -1`, in one run.
#
#   scripts/bench-build.sh [SIZE_MB]     (default 200; run from the workspace root)
#
# Builds a tree of SIZE_MB of mixed files (half compressible text, half random bytes) into a
# one-layer image with `cargo xtask build` (the dev-profile binary `cargo xtask` runs), times
# a rebuild with nothing changed, times `buildah build` of the equivalent `FROM scratch` +
# `COPY` Dockerfile (and its push into an OCI layout, where buildah compresses), and
# `tar -c | gzip -1` of the same tree; prints MB/s and ratios. The same tree as one `files`
# directory entry is compared with `tar -c | pigz -1 -p $(nproc)` (when pigz is installed) and
# buildah's `COPY`; a Dockerfile build through stevedore (buildah driver) is timed cold and
# again with nothing changed, beside buildah's own cached rebuild (`--layers`). Then measures
# peak RSS of a build whose layer holds one 1 GiB file (memory must stay flat).
#
# Environment: BENCH_DIR (default target/bench), SKIP_BIG=1 skips the 1 GiB part.
set -euo pipefail

SIZE_MB=${1:-200}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=${BENCH_DIR:-$ROOT/target/bench}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mbps() { awk -v s="$SIZE_MB" -v t="$1" 'BEGIN { printf "%.0f", s / t }'; }

echo "== building the xtask binary (dev profile, as \`cargo xtask\` runs it)"
cargo build -q -p xtask --manifest-path "$ROOT/Cargo.toml"
XTASK=$CARGO_TARGET_DIR/debug/xtask

rm -rf "$BENCH"
mkdir -p "$BENCH/ws/tree"
cd "$BENCH/ws"
echo "== generating ${SIZE_MB} MB: half text, half random, in 2 MB files"
half=$((SIZE_MB / 2))
files=()
for i in $(seq 1 $((half / 2))); do
  awk -v n="$i" 'BEGIN { while (b < 2097152) { l = sprintf("%08d INFO worker-%d request /api/v1/items/%d served in %d ms by handler list_items\n", j, n, j * 7 % 1000, j % 97); printf "%s", l; b += length(l); j++ } }' > "tree/text-$i.log"
  truncate -s 2097152 "tree/text-$i.log"
  files+=("tree/text-$i.log")
  head -c 2097152 /dev/urandom > "tree/random-$i.bin"
  files+=("tree/random-$i.bin")
done

{
  echo '[release]'
  echo 'name = "bench"'
  echo 'platforms = ["linux/amd64"]'
  echo '[images.bench]'
  echo 'native = { files = ['
  for f in "${files[@]}"; do echo "  { src = \"$f\", dst = \"/data/${f#tree/}\" },"; done
  echo '] }'
  echo '[images.benchdir]'
  echo 'native = { files = [{ src = "tree/", dst = "/data/" }] }'
  echo '[images.benchdf]'
  echo 'dockerfile = "Dockerfile"'
  echo 'context = "."'
  echo 'builder = "buildah"'
} > release.toml
mkdir -p images && mv release.toml images/
printf 'FROM scratch\nCOPY tree/ /data/\n' > Dockerfile
printf 'target/\n' > .dockerignore
git init -q -b main && git add images Dockerfile .dockerignore && git -c user.name=b -c user.email=b@b commit -q -m bench
export XDG_CACHE_HOME="$BENCH/cache"

echo "== native build (cold: no cache, empty layout)"
t0=$(now); "$XTASK" -C . build --image bench > /dev/null 2> "$BENCH/native.log"; t1=$(now)
native=$(secs "$t0" "$t1")
echo "== native rebuild (nothing changed)"
t0=$(now); "$XTASK" -C . build --image bench > /dev/null 2> "$BENCH/rebuild.log"; t1=$(now)
rebuild=$(secs "$t0" "$t1")
layer=$(ls -S target/stevedore/oci/blobs/sha256 | head -1)
layer_mb=$(du -m "target/stevedore/oci/blobs/sha256/$layer" | cut -f1)
echo "== native build of the same tree as one files directory (cold)"
rm -rf target/stevedore
t0=$(now); "$XTASK" -C . build --image benchdir > /dev/null 2> "$BENCH/dir.log"; t1=$(now)
dirbuild=$(secs "$t0" "$t1")

dfcold=""; dfwarm=""; bcold=""; bwarm=""
if command -v buildah > /dev/null; then
  echo "== Dockerfile build through stevedore (buildah driver): cold, then unchanged"
  rm -rf "$XDG_CACHE_HOME"
  t0=$(now); "$XTASK" -C . build --image benchdf > /dev/null 2> "$BENCH/df.log"; t1=$(now)
  t2=$(now); "$XTASK" -C . build --image benchdf > /dev/null 2> "$BENCH/df2.log"; t3=$(now)
  dfcold=$(secs "$t0" "$t1"); dfwarm=$(secs "$t2" "$t3")
  echo "== buildah's own cached rebuild (--layers): cold, then unchanged"
  L=(buildah --root "$BENCH/buildah-l/root" --runroot "$BENCH/buildah-l/runroot" --storage-driver vfs)
  t0=$(now); "${L[@]}" build -q --layers --isolation chroot -t benchl -f Dockerfile . > /dev/null 2>&1; t1=$(now)
  t2=$(now); "${L[@]}" build -q --layers --isolation chroot -t benchl -f Dockerfile . > /dev/null 2>&1; t3=$(now)
  bcold=$(secs "$t0" "$t1"); bwarm=$(secs "$t2" "$t3")
  "${L[@]}" rmi --all --force > /dev/null 2>&1 || true
fi

buildah_build=""; buildah_total=""
if command -v buildah > /dev/null; then
  echo "== buildah build (FROM scratch + COPY), then push to an OCI layout (compression)"
  B=(buildah --root "$BENCH/buildah/root" --runroot "$BENCH/buildah/runroot" --storage-driver vfs)
  t0=$(now); "${B[@]}" build -q --isolation chroot -t bench -f Dockerfile . > /dev/null 2>&1; t1=$(now)
  "${B[@]}" push -q bench "oci:$BENCH/buildah-oci:bench" > /dev/null 2>&1; t2=$(now)
  buildah_build=$(secs "$t0" "$t1"); buildah_total=$(secs "$t0" "$t2")
  "${B[@]}" rmi --all --force > /dev/null 2>&1 || true
fi

echo "== tar -c | gzip -1"
t0=$(now); tar -c tree | gzip -1 > "$BENCH/tree.tar.gz"; t1=$(now)
targz=$(secs "$t0" "$t1")
targz_mb=$(du -m "$BENCH/tree.tar.gz" | cut -f1)
pigz_t=""
if command -v pigz > /dev/null; then
  echo "== tar -c | pigz -1 -p $(nproc)"
  t0=$(now); tar -c tree | pigz -1 -p "$(nproc)" > "$BENCH/tree.tar.pigz.gz"; t1=$(now)
  pigz_t=$(secs "$t0" "$t1")
fi

echo
echo "tree: ${SIZE_MB} MB ($((half / 2 * 2)) files)"
printf '%-34s %7s s  %5s MB/s  layer %s MB\n' "native build (cold)" "$native" "$(mbps "$native")" "$layer_mb"
printf '%-34s %7s s\n' "native rebuild (unchanged)" "$rebuild"
printf '%-34s %7s s  %5s MB/s  out %s MB\n' "tar -c | gzip -1" "$targz" "$(mbps "$targz")" "$targz_mb"
if [ -n "$buildah_build" ]; then
  printf '%-34s %7s s  %5s MB/s\n' "buildah build" "$buildah_build" "$(mbps "$buildah_build")"
  printf '%-34s %7s s  %5s MB/s\n' "buildah build + push (gzip)" "$buildah_total" "$(mbps "$buildah_total")"
  echo "ratio native / buildah build:          $(ratio "$native" "$buildah_build")  (target <= 0.5)"
  echo "ratio native / buildah build + push:   $(ratio "$native" "$buildah_total")"
fi
echo "ratio native / tar|gzip -1:            $(ratio "$native" "$targz")  (target <= 0.75)"
printf '%-34s %7s s  %5s MB/s\n' "native build, files directory" "$dirbuild" "$(mbps "$dirbuild")"
if [ -n "$pigz_t" ]; then
  printf '%-34s %7s s  %5s MB/s\n' "tar -c | pigz -1 -p $(nproc)" "$pigz_t" "$(mbps "$pigz_t")"
  echo "ratio directory / tar|pigz:            $(ratio "$dirbuild" "$pigz_t")  (target <= 1.1)"
fi
if [ -n "$buildah_build" ]; then
  echo "ratio directory / buildah COPY:        $(ratio "$dirbuild" "$buildah_build")  (target <= 0.5)"
fi
if [ -n "$dfcold" ]; then
  printf '%-34s %7s s\n' "Dockerfile via stevedore, cold" "$dfcold"
  printf '%-34s %7s s\n' "Dockerfile via stevedore, unchanged" "$dfwarm"
  printf '%-34s %7s s\n' "buildah --layers, cold" "$bcold"
  printf '%-34s %7s s\n' "buildah --layers, unchanged" "$bwarm"
  echo "ratio unchanged / cold (stevedore):    $(ratio "$dfwarm" "$dfcold")  (target <= 0.2)"
  echo "ratio unchanged / cold (buildah):      $(ratio "$bwarm" "$bcold")"
fi

if [ "${SKIP_BIG:-0}" != 1 ]; then
  echo
  echo "== peak memory: one 1 GiB random file in a layer"
  mkdir -p "$BENCH/big" && cd "$BENCH/big"
  head -c 1073741824 /dev/urandom > big.bin
  printf '[release]\nname = "big"\nplatforms = ["linux/amd64"]\n[images.big]\nnative = { files = [{ src = "big.bin", dst = "/big.bin" }] }\n' > release.toml
  mkdir -p images && mv release.toml images/
  git init -q -b main && git add images && git -c user.name=b -c user.email=b@b commit -q -m big
  t0=$(now)
  /usr/bin/time -v "$XTASK" -C . build > /dev/null 2> time.log
  t1=$(now)
  rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' time.log)
  echo "1 GiB layer: $(secs "$t0" "$t1") s, peak RSS $((rss / 1024)) MiB"
  rm -f big.bin
fi
