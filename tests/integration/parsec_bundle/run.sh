#!/usr/bin/env bash
# Proves the Parsec bundle for L4T R32 (contrib/parsec-bundle/build.sh) without a Jetson: its ELF
# files are aarch64, need no glibc newer than 2.27 and no libcrypto/libssl 3, and under qemu-user,
# in a Debian arm64 root file system, parsec starts and answers parsec-tool's Ping.
#
#   tests/integration/parsec_bundle/run.sh [pytest arguments...]
#
# Builds the bundle and the root file system when the cache has none (cold: tens of minutes for
# the bundle, a few for the root file system; then seconds). Needs root (chroot, debootstrap).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
python="${PYTHON:-$repo/.venv/bin/python}"

# The recipe refuses without the aarch64 standard library (operators add it once); the tests add it.
target=aarch64-unknown-linux-gnu
rustup target list --installed | grep -qx "$target" || rustup target add "$target"
bundle=$("$repo/contrib/parsec-bundle/build.sh" | tail -n 1)
rootfs=$("$here/arm64-rootfs.sh" bookworm | tail -n 1)
L4T_BUNDLE="$bundle" ARM64_ROOTFS="$rootfs" \
  "$python" -m pytest -p no:cacheprovider --rootdir="$repo" "$here" "$@"
