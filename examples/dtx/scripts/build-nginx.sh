#!/bin/sh
# build-nginx.sh OUTPUT: the gateway binary (nginx/, the example's nginx stand-in) for
# $GOOS/$GOARCH: static, reproducible, with the release's VERSION. stevedore runs it once per
# platform and image (`native.command`).
set -eu
: "${GOOS:?GOOS is not set}" "${GOARCH:?GOARCH is not set}"
out="$(pwd)/$1"
mkdir -p "$(dirname "$out")"
cd nginx
CGO_ENABLED=0 go build -trimpath -buildvcs=false \
  -ldflags "-s -w -buildid= -X main.version=${VERSION:-dev}" -o "$out" .
echo "built $1"
