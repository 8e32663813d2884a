#!/usr/bin/env bash
# Installs the Debian packages that the lab and the tests need on this machine (Debian 12 or 13).
# Quiet and quick when everything is already there.
set -euo pipefail

# gcc, libc6-dev: kine's cgo SQLite in tests/doubles/k3s/build.sh (its Go 1.26 is not from Debian).
packages=(podman runc netavark debootstrap python3-venv openssh-client iproute2 git shellcheck patchelf python3-numpy gcc libc6-dev)

if [ "$(id -u)" -ne 0 ]; then
  echo "make: the lab needs root (rootful podman, debootstrap, apt): run it again as root, e.g. 'sudo make lab'" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
  echo "make: this machine has no apt/dpkg: the lab supports Debian 12 (bookworm) and 13 (trixie) hosts" >&2
  exit 1
fi

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! podman --version >/dev/null 2>&1; then
  echo "make: podman is installed but does not run ('podman --version' fails): repair the podman package" >&2
  exit 1
fi
