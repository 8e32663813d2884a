#!/usr/bin/env bash
# Builds (or reuses, from the cache) the artifacts the lab feeds to the roles, and stages them under
# stable names in the lab's artifact directory, like an air-gapped site's artifact store:
#   parsec-bundle-linux-x86_64.tar.gz(.sha256)   Parsec for the nanos (bookworm has no package)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
artifacts="${XDG_CACHE_HOME:-$HOME/.cache}/edgefaas/lab-artifacts"
mkdir -p "$artifacts"

stage() { # stage <built file> <stable name>
  ln -sfn "$1" "$artifacts/$2"
  ln -sfn "$1.sha256" "$artifacts/$2.sha256"
}

stage "$("$here/build-parsec-bundle.sh" | tail -n 1)" parsec-bundle-linux-x86_64.tar.gz
