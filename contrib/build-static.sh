#!/bin/sh
# Builds weft as the container image ships it (see Dockerfile): a static
# executable (no cgo, so no libc to load), without file-system paths
# (-trimpath) or symbol and debug tables (-s -w). The Dockerfile runs this
# script and cmd/weft's TestStaticBuild runs it too, so the two cannot
# drift apart.
#
# Usage: contrib/build-static.sh OUTPUT [VERSION]
# Run it from the repository's top folder. VERSION, when given, is what
# "weft version" prints (else the module version from the build info).
set -eu
out=${1:?usage: contrib/build-static.sh OUTPUT [VERSION]}
version=${2:-}
ldflags="-s -w"
if [ -n "$version" ]; then
	ldflags="$ldflags -X main.version=$version"
fi
CGO_ENABLED=0 exec go build -trimpath -ldflags "$ldflags" -o "$out" ./cmd/weft
