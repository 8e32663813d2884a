#!/usr/bin/env bash
# Builds (or reuses, from the cache) the artifacts the lab feeds to the roles, and stages them under
# stable names in the lab's artifact directory, like an air-gapped site's artifact store:
#   parsec-bundle-linux-x86_64.tar.gz(.sha256)   Parsec for the nanos (bookworm has no package)
#   k3s/<version>/, k3s-double/bin/               K3s (the test double) and its control plane
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

# K3s: the K3s test double (tests/doubles/k3s) as the air-gap directories of two releases, binary and
# checksum file in K3s's format; the second differs only in its version, for the upgrade test:
#   k3s/v1.37.2+k3s1/{k3s,sha256sum-amd64.txt}   k3s/v1.37.2+k3s2/{k3s,sha256sum-amd64.txt}
# and the control plane behind the double with kubectl, which lab.py bind-mounts read-only into the
# switch's container as /usr/local/lib/k3s-double/bin (a real directory: a symlink out of a bind
# mount dangles in the container):
#   k3s-double/bin/{kine,kube-apiserver,kwok,kubectl}
double=$(cd "$here/../doubles/k3s" && pwd)
K3S_RELEASES=(v1.37.2+k3s1 v1.37.2+k3s2)
"$double/build.sh" # the control plane: about 15-25 minutes on a new machine, then cached

build_k3s_airgap() { # build_k3s_airgap <output directory>: one air-gap directory per release in it
  local tmp release suffix line
  tmp=$(mktemp -d "$1.XXXXXX")
  for release in "${K3S_RELEASES[@]}"; do
    suffix=${release#*+}
    mkdir "$tmp/$release"
    install -m 0755 "$double/k3s" "$tmp/$release/k3s"
    sed -i "s/^K3S_VERSION = K8S_VERSION + \"+k3s1\"\$/K3S_VERSION = K8S_VERSION + \"+$suffix\"/" "$tmp/$release/k3s"
    grep -qx "K3S_VERSION = K8S_VERSION + \"+$suffix\"" "$tmp/$release/k3s" || {
      echo "stage-artifacts: could not set the version of $double/k3s to +$suffix: its line" \
        "'K3S_VERSION = K8S_VERSION + \"+k3s1\"' changed; adapt the sed above" >&2
      rm -rf "$tmp"
      exit 1
    }
    line=$("$tmp/$release/k3s" --version | head -n 1)
    [[ $line == "k3s version $release ("* ]] || {
      echo "stage-artifacts: $tmp/$release/k3s --version says '$line', expected $release" >&2
      rm -rf "$tmp"
      exit 1
    }
    (cd "$tmp/$release" && sha256sum k3s > sha256sum-amd64.txt)
  done
  mv -T "$tmp" "$1" 2>/dev/null || rm -rf "$tmp" # another run got there first: same content
}

stage_file() { # stage_file <built file> <stable name>: a hard link, or a copy on another file system
  local dst="$artifacts/$2"
  mkdir -p "$(dirname "$dst")"
  if [ "$1" -ef "$dst" ]; then return; fi # already staged
  if ! ln -f "$1" "$dst.new" 2>/dev/null; then
    if [ -f "$dst" ] && [ ! -L "$dst" ] && cmp -s "$1" "$dst"; then return; fi # an identical copy
    cp "$1" "$dst.new"
  fi
  mv -f "$dst.new" "$dst"
}

airgap="${XDG_CACHE_HOME:-$HOME/.cache}/edgefaas/k3s-airgap-$(sha256sum "$double/k3s" | cut -c1-12)"
[ -d "$airgap" ] || build_k3s_airgap "$airgap"
for release in "${K3S_RELEASES[@]}"; do
  stage_tree "$airgap/$release" "k3s/$release"
done
control_plane=$("$double/build.sh" --print-dir)
for b in kine kube-apiserver kwok; do
  stage_file "$control_plane/$b" "k3s-double/bin/$b"
done
kubectl=$("$double/kubectl.sh")
stage_file "$kubectl" k3s-double/bin/kubectl
