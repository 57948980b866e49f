#!/bin/sh
# Builds the togather binary for one platform into dist/<os>-<arch>/togather: static
# (CGO_ENABLED=0), reproducible (-trimpath, no build id, no VCS stamp), with the release's
# VERSION, GIT_COMMIT and BUILD_DATE linked in.
#
# stevedore runs it once per platform (`native.command` in images/release.toml), with GOOS,
# GOARCH, VERSION, GIT_COMMIT, BUILD_DATE and SOURCE_DATE_EPOCH set. scripts/dist.sh runs it
# for the Dockerfile build, taking the same values from git.
set -eu
: "${GOOS:?GOOS is not set}" "${GOARCH:?GOARCH is not set}"
out="dist/${GOOS}-${GOARCH}/togather"
mkdir -p "$(dirname "$out")"
CGO_ENABLED=0 go build -trimpath -buildvcs=false \
  -ldflags "-s -w -buildid= -X main.version=${VERSION:-dev} -X main.commit=${GIT_COMMIT:-unknown} -X main.buildDate=${BUILD_DATE:-unknown}" \
  -o "$out" .
echo "built $out"
