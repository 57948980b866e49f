#!/usr/bin/env bash
# Captures what a refactor must not change, for one stevedore binary: `plan --json`,
# `tags --json` of the examples and of a small stack (two native images, one a `-dev` variant
# with its own tags, a compose artifact with its OCI 1.0 fallback, two local registries), then
# the stack's `release --dry-run`, `release` (a real push to two fresh docker-registry
# instances), a second `push` from the layout, and the layout's names and digests.
#
#   scripts/same-outputs.sh BINARY OUTDIR PORT1 PORT2
#
# Run it with the binary before and after a change (same ports) and `diff -r` the two OUTDIRs.
# Masked: timings, the temporary directory, and attestation digests (provenance records the
# release time). The progress lines of a push come in the order requests finish: they are sorted.
set -euo pipefail
bin=$(realpath "$1"); out=$(realpath -m "$2"); p1=$3; p2=$4
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

export GIT_AUTHOR_DATE="2026-01-02T03:04:05Z" GIT_COMMITTER_DATE="2026-01-02T03:04:05Z"
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
mkdir -p "$work/docker"; export DOCKER_CONFIG="$work/docker"
unset CI GITHUB_ACTIONS SOURCE_DATE_EPOCH || true

commit() { # DIR: a git repository of DIR's files, tagged v1.2.3
  git -C "$1" init -q -b main && git -C "$1" add -A && git -C "$1" commit -qm release && git -C "$1" tag v1.2.3
}
mask() { sed -E "s#$work#<tmp>#g; s/[0-9]+(\.[0-9]+)? ?(ms|s)\b/<t>/g; s/[0-9.]+ ?(B|KiB|MiB|GiB)\/s/<rate>/g"; }
run() { # NAME DIR ARGS...: stdout, stderr (masked) and the exit code
  local name=$1 dir=$2; shift 2
  set +e
  "$bin" -C "$dir" "$@" >"$out/$name.out" 2>"$out/$name.err.raw"
  echo $? >"$out/$name.rc"
  set -e
  mask <"$out/$name.err.raw" >"$out/$name.err"; rm "$out/$name.err.raw"
  mask <"$out/$name.out" >"$out/$name.out.m"; mv "$out/$name.out.m" "$out/$name.out"
}

# The examples: plan and tags only (their builds need Go, Node and Rust toolchains).
for ex in cartrita clearsplit dtx togather votive; do
  d="$work/ex-$ex"; mkdir -p "$d"
  (cd "$here/examples/$ex" && tar --exclude=target --exclude=node_modules --exclude=dist -cf - .) | tar -xf - -C "$d"
  commit "$d"
  run "$ex-plan" "$d" plan --json
  run "$ex-tags" "$d" tags --json
done

# The stack.
s="$work/stack"; mkdir -p "$s/images" "$s/files"
cp /bin/busybox "$s/files/busybox"
cat >"$s/images/release.toml" <<TOML
[release]
name = "stack"
registries = ["127.0.0.1:$p1/acme", "127.0.0.1:$p2"]
platforms = ["linux/amd64"]
tags = ["type=semver,pattern=v{{version}}", "type=semver,pattern={{major}}.{{minor}}", "type=semver,pattern={{major}}"]
latest = "auto"

[images.web]
native = { files = [{ src = "files/busybox", dst = "/bin/busybox", mode = "0755" }] }
entrypoint = ["/bin/busybox"]

[images.web-dev]
native = { files = [{ src = "files/busybox", dst = "/bin/busybox", mode = "0755" }] }
entrypoint = ["/bin/busybox", "sh"]
flavor = { suffix = "-dev", onlatest = true }

[compose]
files = ["compose.yaml"]
repository = "stack-oci"
TOML
cat >"$s/compose.yaml" <<YAML
services:
  web:
    image: 127.0.0.1:$p1/acme/web:v1.2.3
    command: ["httpd", "-f"]
  dev:
    image: 127.0.0.1:$p1/acme/web-dev:v1.2.3-dev
YAML
printf 'target/\n' >"$s/.gitignore"
commit "$s"
run stack-plan "$s" plan --json
run stack-tags "$s" tags --json
run stack-dry-run "$s" release --dry-run

for p in "$p1" "$p2"; do
  mkdir -p "$work/reg-$p"
  printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "$work/reg-$p/data" "$p" >"$work/reg-$p/config.yml"
  docker-registry serve "$work/reg-$p/config.yml" >"$work/reg-$p/log" 2>&1 &
  pids+=($!)
done
for p in "$p1" "$p2"; do
  for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$p/v2/" >/dev/null 2>&1 && break; sleep 0.2; done
done
run stack-release "$s" release --metadata-file "$work/metadata.json"
mask <"$work/metadata.json" >"$out/stack-release-metadata.json" || true
run stack-push-again "$s" push --metadata-file "$work/metadata2.json"
mask <"$work/metadata2.json" >"$out/stack-push-again-metadata.json" || true
# The layout: every name and the digest it holds (attestations by name only).
jq -r '.manifests[] | .annotations["org.opencontainers.image.ref.name"] as $n
  | if ($n | startswith("attest/")) then "\($n)" else "\($n) \(.digest)" end' \
  "$s/target/stevedore/oci/index.json" | sort >"$out/stack-layout-names"
# What the registries hold: every tag of every repository and its digest.
for p in "$p1" "$p2"; do
  for repo in $(curl -fsS "http://127.0.0.1:$p/v2/_catalog" | jq -r '.repositories[]'); do
    for tag in $(curl -fsS "http://127.0.0.1:$p/v2/$repo/tags/list" | jq -r '.tags[]?' | sort); do
      d=$(curl -fsSI -H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json' \
        "http://127.0.0.1:$p/v2/$repo/manifests/$tag" | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}')
      case "$tag" in sha256-*) echo "$p $repo $tag (referrers fallback index)";; *) echo "$p $repo $tag $d";; esac
    done
  done
done >"$out/stack-registries"
# Attestation digests (and their short forms) become <attestation>; push progress is sorted.
oci="$s/target/stevedore/oci"
attest=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] | startswith("attest/")) | .digest' \
  "$oci/index.json")
blobs=$(for d in $attest; do jq -r '.layers[].digest' "$oci/blobs/sha256/${d#sha256:}"; done)
for d in $attest $blobs; do
  hex=${d#sha256:}
  sed -i -E "s/$hex/<attestation>/g; s/${hex:0:12}/<attestation>/g" "$out"/stack-*
done
for f in stack-release.err stack-push-again.err; do sort -o "$out/$f" "$out/$f"; done
echo "captured in $out"
