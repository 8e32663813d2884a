#!/bin/sh
# Stops what a stopped K3s leaves behind (install.sh's k3s-killall.sh does the same): container
# processes, their mounts, CNI/flannel interfaces and K3s's iptables chains. Prints one line per
# thing it removed, nothing when there was nothing to do.
# Usage: k3s-cleanup.sh <K3s data dir>
set -u
data_dir=${1:?usage: k3s-cleanup.sh <K3s data dir>}

for pid in $(pgrep -f "$data_dir/data/[^/]*/bin/containerd-shim" 2>/dev/null); do
  kill -9 "$pid" 2>/dev/null && echo "killed container shim $pid"
done

# Deepest mounts first.
awk -v d="$data_dir" '$5 ~ "^/run/k3s" || $5 ~ "^/var/lib/kubelet" || index($5, d "/") == 1 {print $5}' \
  /proc/self/mountinfo | sort -r | while read -r mnt; do
  umount -l "$mnt" 2>/dev/null && echo "unmounted $mnt"
done

for link in cni0 flannel.1 flannel-v6.1 flannel-wg flannel-wg-v6 kube-ipvs0; do
  if ip link show "$link" >/dev/null 2>&1; then
    ip link delete "$link" && echo "deleted interface $link"
  fi
done

for save in iptables-save ip6tables-save; do
  command -v "$save" >/dev/null 2>&1 || continue
  restore=${save%-save}-restore
  rules=$("$save" 2>/dev/null) || continue
  if printf '%s\n' "$rules" | grep -qE 'KUBE-|CNI-|FLANNEL|flannel'; then
    printf '%s\n' "$rules" | grep -vE 'KUBE-|CNI-|FLANNEL|flannel' | "$restore" && echo "removed K3s's chains ($save)"
  fi
done
exit 0
