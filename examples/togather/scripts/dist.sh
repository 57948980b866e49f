#!/bin/sh
# Builds dist/linux-amd64/togather and dist/linux-arm64/togather for the Dockerfile
# (images/release.dockerfile.toml), with the values stevedore would pass, read from git:
# VERSION from the version tag on HEAD (else `git describe`), GIT_COMMIT (the short sha), and
# BUILD_DATE (the commit time in UTC).
set -eu
cd "$(dirname "$0")/.."
VERSION="${VERSION:-$(git describe --tags --always --dirty | sed 's/^v//')}"
GIT_COMMIT="${GIT_COMMIT:-$(git rev-parse --short=7 HEAD)}"
BUILD_DATE="${BUILD_DATE:-$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ)}"
export VERSION GIT_COMMIT BUILD_DATE
for arch in amd64 arm64; do
  GOOS=linux GOARCH="$arch" sh scripts/build.sh
done
