#!/usr/bin/env bash
# Runs inside the fresh container of tests/lab/host_deps_check.py (a lab image, Debian 12 or 13, this
# directory mounted at /edgefaas-lab): makes it a minimal Debian, runs host-deps.sh there as a new
# machine would, and starts a container on a podman network with what host-deps.sh installed.
set -euo pipefail

# shellcheck disable=SC1091 # the container's own
step() { echo "host-deps-check ($(. /etc/os-release && echo "$VERSION_CODENAME")): $*"; }

# A minimal Debian keeps only the packages of priority required and important (and what they
# depend on or recommend, as a Debian installation does; not what they suggest): the lab image's
# own extras (ssh, curl, python3, ...) would hide a missing entry.
reduce_to_minimal_debian() {
  dpkg-query -W -f='${Package}\n' | xargs apt-mark auto >/dev/null
  dpkg-query -W -f='${Package} ${Priority}\n' | awk '$2 == "required" || $2 == "important" { print $1 }' |
    xargs apt-mark manual >/dev/null
  # sudo refuses to go without a root password unless told.
  SUDO_FORCE_REMOVE=yes DEBIAN_FRONTEND=noninteractive apt-get -o APT::AutoRemove::SuggestsImportant=false \
    autoremove --purge -y -qq >/dev/null
  step "minimal Debian $(cat /etc/debian_version): $(dpkg-query -W -f='${Package}\n' | wc -l) packages"
}

# What the lab does first and the field failed at ("netavark: No such file or directory" without
# iptables on Debian 12, nft on 13): a podman network and a container on it, in namespaces of their own (this container
# shares the machine's network, for apt). The container's root is this one's, bind-mounted: no
# image is needed. A cgroup namespace of its own: nested runc cannot mount the machine's cgroups.
start_container_on_network() {
  export CONTAINERS_CONF=/edgefaas-lab/containers.conf
  # shellcheck disable=SC2016 # expanded by the inner bash
  unshare --net --mount bash -euo pipefail -c '
    mkdir -p /tmp/rootfs && mount --bind / /tmp/rootfs
    podman=(podman --cgroup-manager=cgroupfs --events-backend=file --storage-driver=vfs)
    "${podman[@]}" network create edgefaas-hostdeps >/dev/null
    "${podman[@]}" run --rm --cgroupns=private --network edgefaas-hostdeps --rootfs /tmp/rootfs /bin/true'
  step "podman started a container on a network of its own"
}

reduce_to_minimal_debian
step "running host-deps.sh"
bash /edgefaas-lab/host-deps.sh
start_container_on_network
