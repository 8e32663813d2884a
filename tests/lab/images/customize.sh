#!/bin/sh
# Runs inside the freshly debootstrapped root filesystem (chroot) of a lab image.
set -eu
release="$1"

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
