#!/usr/bin/env bash
# Builds (or reuses, from the cache) the artifacts the lab feeds to the roles, and stages them under
# stable names in the lab's artifact directory, like an air-gapped site's artifact store:
#   parsec-bundle-linux-x86_64.tar.gz(.sha256)   Parsec for the nanos (bookworm has no package)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
artifacts="${XDG_CACHE_HOME:-$HOME/.cache}/edgefaas/lab-artifacts"
mkdir -p "$artifacts"

stage_tree() { # stage_tree <built file or directory> <stable name>
  mkdir -p "$(dirname "$artifacts/$2")"
  ln -sfn "$1" "$artifacts/$2"
}

stage() { # stage <built file> <stable name>: the file and its sha256sum file
  stage_tree "$1" "$2"
  stage_tree "$1.sha256" "$2.sha256"
}

stage "$("$here/build-parsec-bundle.sh" | tail -n 1)" parsec-bundle-linux-x86_64.tar.gz

# Triton for the nanos (the real tritonserver repackaged as NVIDIA's JetPack 4.6.1 tarball), and the
# default model trained on this machine, with its held-out images:
#   tritonserver-jetpack4.6.1.tgz(.sha256)   models/digits/   models/digits-samples.json
stage "$("$here/build-triton-artifact.sh" | tail -n 1)" tritonserver-jetpack4.6.1.tgz
digits=$("$here/triton/build-digits-model.sh" | tail -n 1)
stage_tree "$digits" models/digits
stage_tree "$(dirname "$digits")/digits-samples.json" models/digits-samples.json
