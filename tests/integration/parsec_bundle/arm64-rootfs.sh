#!/usr/bin/env bash
# Builds (once, then cached) a minimal Debian arm64 root file system for running aarch64 binaries
# under qemu-user on this x86_64 machine, where binfmt_misc may not be registrable (containers):
# the caller runs `chroot <rootfs> /usr/bin/qemu-aarch64-static <binary>` explicitly.
#
#   tests/integration/parsec_bundle/arm64-rootfs.sh [suite]     (default: bookworm)
#
# Output: ${XDG_CACHE_HOME:-$HOME/.cache}/edgefaas/rootfs-arm64-<suite>/ with qemu-aarch64-static in
# /usr/bin; the last line on stdout is its path. Only debootstrap's first stage runs (--foreign): its
# second stage would have to execute arm64 programs, which needs binfmt. The first stage unpacks the
# required packages (libc6, libgcc-s1, ...), which is all a dynamically linked program needs to start.
# debootstrap checks the suite's Release signature with the Debian archive keyring.
set -euo pipefail

SUITE=${1:-bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/edgefaas"
QEMU=/usr/bin/qemu-aarch64-static
rootfs="$CACHE_ROOT/rootfs-arm64-$SUITE"

die() {
  echo "arm64-rootfs: ERROR: $*" >&2
  exit 1
}

[[ $EUID -eq 0 ]] || die "debootstrap and chroot need root: run it again as root"
command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
[[ -x $QEMU ]] || die "$QEMU is missing (apt-get install qemu-user-static)"

# The finished tree is moved into place in one step, so a present directory is a complete one.
if [[ ! -e $rootfs/lib/ld-linux-aarch64.so.1 ]]; then
  mkdir -p "$CACHE_ROOT"
  tmp=$(mktemp -d "$CACHE_ROOT/.rootfs-arm64-$SUITE.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "arm64-rootfs: debootstrap --arch=arm64 --variant=minbase --foreign $SUITE (a few minutes)" >&2
  debootstrap --arch=arm64 --variant=minbase --foreign "$SUITE" "$tmp" "$MIRROR" >"$tmp.log" 2>&1 ||
    die "debootstrap failed: $(tail -n 5 "$tmp.log")"
  rm -f "$tmp.log"
  [[ -e $tmp/lib/ld-linux-aarch64.so.1 ]] || die "debootstrap left no /lib/ld-linux-aarch64.so.1 in $tmp"
  chmod 0755 "$tmp"
  rm -rf "$rootfs"
  mv -T "$tmp" "$rootfs"
  trap - EXIT
fi
# qemu-user itself is static: copied in (not linked), it runs inside the chroot; kept current.
install -m 0755 "$QEMU" "$rootfs/usr/bin/qemu-aarch64-static"
echo "$rootfs"
