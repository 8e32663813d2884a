#!/bin/sh
# Runs inside the freshly debootstrapped root filesystem (chroot) of a lab image.
# Usage: customize.sh <Debian release> <device dressing of the hosts that use the image: sonic, jetson>
set -eu
release="$1"
device="$2"

# Every container must get its own SSH host keys and machine id, not the image's.
rm -f /etc/ssh/ssh_host_*
mkdir -p /etc/systemd/system/ssh.service.d
cat > /etc/systemd/system/ssh.service.d/10-hostkeys.conf <<'UNIT'
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
UNIT
systemctl enable ssh.service
: > /etc/machine-id

# Units that have nothing to do in a container and only slow the boot down.
for unit in getty@tty1.service console-getty.service systemd-udevd.service systemd-udev-trigger.service \
            systemd-networkd-wait-online.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer; do
  systemctl mask "$unit" >/dev/null 2>&1 || true
done

if [ "$device" = jetson ]; then
  # As on a Jetson Nano (L4T R32, Ubuntu 18.04): Ansible runs with a Python that is not the system
  # one (there a python3.8 beside the system 3.6) and has no apt bindings, which Ubuntu builds for
  # the system Python only. Here: a venv of the system Python without its site packages
  # (inventories/lab/group_vars/jetson.yml points ansible_python_interpreter at it), and python3-apt
  # removed and pinned away, so that ansible.builtin.apt's fallbacks (respawning under
  # /usr/bin/python3, installing python3-apt) fail as they do on the Nano.
  python3 -m venv --without-pip /opt/python3
  dpkg --purge python3-apt
  cat > /etc/apt/preferences.d/edgefaas-lab-no-python3-apt <<'PREFERENCES'
# The lab's nanos stand in for L4T R32: no apt bindings for the Python Ansible runs with.
Package: python3-apt
Pin: release a=*
Pin-Priority: -1
PREFERENCES
fi

cat > /etc/apt/sources.list <<SOURCES
deb http://deb.debian.org/debian $release main
deb http://deb.debian.org/debian $release-updates main
deb http://deb.debian.org/debian-security $release-security main
SOURCES
apt-get clean
rm -rf /var/lib/apt/lists/* /var/log/*.log /tmp/*
# An empty package index that looks old, as on a device that was never updated: the first
# `apt update_cache` with cache_valid_time must then really refresh it.
touch -d @0 /var/lib/apt/lists
