#!/bin/sh
# go-build.sh MODULE_DIR OUTPUT: a static, reproducible Go binary for $GOOS/$GOARCH with the
# release's VERSION linked in. stevedore runs it once per platform (`native.command`) with
# GOOS, GOARCH, VERSION, GIT_COMMIT, BUILD_DATE and SOURCE_DATE_EPOCH set.
set -eu
module="$1"
out="$(pwd)/$2"
: "${GOOS:?GOOS is not set}" "${GOARCH:?GOARCH is not set}"
mkdir -p "$(dirname "$out")"
cd "$module"
CGO_ENABLED=0 go build -trimpath -buildvcs=false \
  -ldflags "-s -w -buildid= -X main.version=${VERSION:-dev}" -o "$out" .
echo "built $2"
