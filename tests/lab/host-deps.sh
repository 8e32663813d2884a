#!/usr/bin/env bash
# Installs the Debian packages that the lab and the tests need on this machine (Debian 12 or 13),
# from the one list tests/lab/host-deps.txt, then checks that every program and file of the list
# is there, and that the Go toolchain (not a Debian package) is. Quiet and quick when all is there.
set -euo pipefail

list="$(cd "$(dirname "$0")" && pwd)/host-deps.txt"
GO_MINOR=26 # tests/doubles/k3s/build.sh builds with GOTOOLCHAIN=local: Kubernetes 1.37 wants go1.26

fail() {
  echo "make: $*" >&2
  exit 1
}

# Prints "<needed> <package>" for every entry of the list, without comments.
entries() { sed -e 's/#.*//' "$list" | awk 'NF { print $1, $2 }'; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# A command on PATH, or an absolute path (a glob) that matches a file.
resolves() {
  if [[ $1 == /* ]]; then compgen -G "$1" >/dev/null; else command -v "$1" >/dev/null; fi
}

install_missing() {
  local missing
  mapfile -t missing < <(entries | awk '{ print $2 }' | sort -u | while read -r pkg; do installed "$pkg" || echo "$pkg"; done)
  [ "${#missing[@]}" -gt 0 ] || return 0
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

check_entries() {
  local needed pkg unresolved=()
  while read -r needed pkg; do
    resolves "$needed" || unresolved+=("'$needed' (package $pkg)")
  done < <(entries)
  [ "${#unresolved[@]}" -eq 0 ] ||
    fail "still missing after installing the packages of $list: ${unresolved[*]}; install them with apt-get, or correct the package named in the list"
}

check_go() {
  local go version
  go=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
  [ -x "$go" ] || fail "the Go toolchain (go1.$GO_MINOR or newer, not a Debian package) is missing at $go: unpack the official release tarball from https://go.dev/dl/ into /usr/local/go (or set GO=/path/to/go); tests/doubles/k3s/build.sh needs it"
  version=$("$go" env GOVERSION)
  if ! [[ $version =~ ^go1\.([0-9]+) ]] || [ "${BASH_REMATCH[1]}" -lt "$GO_MINOR" ]; then
    fail "$go is $version; tests/doubles/k3s/build.sh needs go1.$GO_MINOR or newer (https://go.dev/dl/, into /usr/local/go)"
  fi
}

if [ "$(id -u)" -ne 0 ]; then
  fail "the lab needs root (rootful podman, debootstrap, apt): run it again as root, e.g. 'sudo make lab'"
fi
if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
  fail "this machine has no apt/dpkg: the lab supports Debian 12 (bookworm) and 13 (trixie) hosts"
fi
install_missing
check_entries
check_go
if ! podman --version >/dev/null 2>&1; then
  fail "podman is installed but does not run ('podman --version' fails): repair the podman package"
fi
