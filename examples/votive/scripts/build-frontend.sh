#!/bin/sh
# The front end's image holds its built assets and edge (proxy/), the Go stand-in for nginx
# that serves them: `npm run build` once, edge per platform.
set -eu
: "${GOOS:?GOOS is not set}" "${GOARCH:?GOARCH is not set}"
(cd frontend && node build.mjs)
sh scripts/go-build.sh proxy "dist/frontend/${GOOS}-${GOARCH}/edge"
