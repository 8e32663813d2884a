"""The EdgeFaaS lab: systemd containers dressed as SONiC switches and Jetson Nanos.

Used by `make lab` (the lab named ``edgefaas-lab``) and by every Molecule scenario (one lab
per scenario, on its own subnet). Ansible reaches the hosts over SSH, like real devices.

    lab.py check                 root, podman and debootstrap are usable
    lab.py images                build the host images if their recipe changed
    lab.py up   --name N --subnet CIDR [--json FILE]
    lab.py down --name N
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAB_DIR = Path(__file__).resolve().parent
REPO = LAB_DIR.parents[1]
STATE = REPO / ".lab"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "edgefaas"
MIRROR = os.environ.get("EDGEFAAS_LAB_MIRROR", "http://deb.debian.org/debian")
LABEL = "io.edgefaas.lab"
# The lab's artifact store (tests/lab/stage-artifacts.sh fills it). The switch gets the control plane
# behind the K3s test double (kine, kube-apiserver, kwok, kubectl) where the double looks for it.
ARTIFACTS = CACHE / "lab-artifacts"
K3S_DOUBLE_BIN = ARTIFACTS / "k3s-double" / "bin"
K3S_DOUBLE_MOUNT = "/usr/local/lib/k3s-double/bin"
# A SONiC switch's /host is a partition that outlives image upgrades; the lab's switch gets a podman
# volume there, which outlives a re-creation of its container and goes with `lab.py down`.
SONIC_PERSISTENT_DIR = "/host"

# name, Debian release, device dressing, login user, last octet of its address
HOSTS = (
    ("sonic-1", "trixie", "sonic", "admin", 10),
    ("sonic-2", "bookworm", "sonic", "admin", 11),
    ("nano-1", "bookworm", "jetson", "nano", 21),
    ("nano-2", "bookworm", "jetson", "nano", 22),
)


# The data-plane prefixes (config_db's INTERFACE, VLAN_INTERFACE, LOOPBACK_INTERFACE keys "<ifname>|<prefix>")
# of each switch that does not keep those of files/config_db.json (sonic-1's): two switches of one site
# route distinct subnets, none of them inside K3s's cluster (10.42.0.0/16) or service (10.43.0.0/16) CIDR.
SWITCH_PREFIXES = {
    "sonic-2": {"Ethernet0": "10.0.0.2/31", "Vlan1000": "172.20.11.1/24", "Loopback0": "10.1.0.2/32"},
}
DATA_PLANE_TABLES = ("INTERFACE", "VLAN_INTERFACE", "LOOPBACK_INTERFACE")


class LabError(Exception):
    """A problem the user can fix; the message says how."""


def run(*args: str, check: bool = True, capture: bool = True, stdin: bytes | None = None) -> str:
    proc = subprocess.run(args, input=stdin, capture_output=capture, check=False)
    if check and proc.returncode != 0:
        err = (proc.stderr or b"").decode(errors="replace").strip()
        raise LabError(f"`{' '.join(args)}` failed (exit {proc.returncode}): {err}")
    return (proc.stdout or b"").decode(errors="replace")


def podman(*args: str, **kwargs) -> str:
    return run("podman", *args, **kwargs)


# --- checks -------------------------------------------------------------------------------------


def check_tools() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (rootful podman, debootstrap): run it again as root, e.g. `sudo make lab`")
    for tool, package in (("podman", "podman"), ("debootstrap", "debootstrap"), ("ssh-keygen", "openssh-client")):
        if shutil.which(tool) is None:
            raise LabError(
                f"`{tool}` is not installed: install it with `apt-get install {package}` (or run `make lab`)"
            )
    conf = os.environ.get("CONTAINERS_CONF")
    if not conf or not Path(conf).is_file():
        raise LabError("CONTAINERS_CONF must name tests/lab/containers.conf (runc, no ulimits): run through `make`")


def network_subnets() -> dict[str, list[ipaddress.IPv4Network]]:
    """Subnets of every podman network, by network name."""
    found: dict[str, list[ipaddress.IPv4Network]] = {}
    for net in json.loads(podman("network", "ls", "--format", "json") or "[]"):
        subnets = [ipaddress.ip_network(s["subnet"]) for s in net.get("subnets") or [] if ":" not in s["subnet"]]
        found[net["name"]] = subnets
    return found


def host_routes() -> list[tuple[ipaddress.IPv4Network, str]]:
    """IPv4 routes of the machine with their device, to find a subnet already in use."""
    routes = []
    for route in json.loads(run("ip", "-j", "-4", "route", "show", "table", "all")):
        dst = route.get("dst", "")
        if dst in ("default", "") or not dst[0].isdigit():
            continue
        routes.append((ipaddress.ip_network(dst, strict=False), route.get("dev", "?")))
    return routes


def check_subnet_free(name: str, subnet: ipaddress.IPv4Network) -> None:
    for other, subnets in network_subnets().items():
        if other == name:
            continue
        for taken in subnets:
            if taken.overlaps(subnet):
                raise LabError(
                    f"the lab subnet {subnet} overlaps podman network `{other}` ({taken}): "
                    f"remove it with `podman network rm {other}` (or `make lab-down` if it is an old lab)"
                )
    own_bridges = (
        {podman("network", "inspect", name, "--format", "{{.NetworkInterface}}").strip()}
        if (name in network_subnets())
        else set()
    )
    for route, dev in host_routes():
        if dev not in own_bridges and route.overlaps(subnet) and route.prefixlen > 0:
            raise LabError(
                f"the lab subnet {subnet} is already routed to `{dev}` ({route}) on this machine: "
                f"free it (remove that interface or route) before starting the lab"
            )


# --- images -------------------------------------------------------------------------------------


def image_recipe_digest(release: str, device: str) -> str:
    """The digest of what an image of this release for this device kind is built from (customize.sh's arguments)."""
    digest = hashlib.sha256(f"{release} {device}".encode())
    for part in ("packages.txt", "customize.sh"):
        digest.update((LAB_DIR / "images" / part).read_bytes())
    digest.update(MIRROR.encode())
    return digest.hexdigest()[:12]


def image_tag(release: str, device: str) -> str:
    return f"localhost/edgefaas-lab-{release}:{image_recipe_digest(release, device)}"


def image_packages() -> str:
    lines = (LAB_DIR / "images" / "packages.txt").read_text().splitlines()
    return ",".join(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def build_image(release: str, device: str) -> str:
    tag = image_tag(release, device)
    if image_exists(tag):
        print(f"image {tag}: up to date")
        return tag
    print(f"image {tag} ({release} for {device} hosts): building with debootstrap (a few minutes)", flush=True)
    debs = CACHE / f"debs-{release}"
    debs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"edgefaas-rootfs-{release}-", dir=CACHE) as root:
        run(
            "debootstrap",
            "--variant=minbase",
            f"--cache-dir={debs}",
            f"--include={image_packages()}",
            release,
            root,
            MIRROR,
        )
        shutil.copy(LAB_DIR / "images" / "customize.sh", Path(root) / "customize.sh")
        run("chroot", root, "/bin/sh", "/customize.sh", release, device)
        (Path(root) / "customize.sh").unlink()
        import_rootfs(root, tag)
    return tag


def import_rootfs(root: str, tag: str) -> None:
    tar = subprocess.Popen(["tar", "-C", root, "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)
    imported = subprocess.run(
        ["podman", "import", "--change", 'CMD ["/sbin/init"]', "--change", "STOPSIGNAL SIGRTMIN+3", "-", tag],
        stdin=tar.stdout,
        capture_output=True,
        check=False,
    )
    if tar.wait() != 0 or imported.returncode != 0:
        raise LabError(f"importing {root} as {tag} failed: {imported.stderr.decode(errors='replace').strip()}")


def image_exists(tag: str) -> bool:
    return subprocess.run(["podman", "image", "exists", tag], check=False).returncode == 0


def image_kinds() -> list[tuple[str, str]]:
    """The (Debian release, device dressing) pairs of HOSTS: one image each, so a release serves several kinds."""
    return sorted({(host[1], host[2]) for host in HOSTS})


def build_images() -> dict[tuple[str, str], str]:
    """The image tag of each (release, device) pair of HOSTS, built if its recipe changed."""
    return {kind: build_image(*kind) for kind in image_kinds()}


# --- lab ----------------------------------------------------------------------------------------


def ssh_key() -> Path:
    key = STATE / "ssh" / "id_ed25519"
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "edgefaas-lab", "-f", str(key))
    return key


def ensure_network(name: str, subnet: ipaddress.IPv4Network) -> None:
    existing = network_subnets()
    if name in existing:
        if subnet not in existing[name]:
            raise LabError(
                f"podman network `{name}` exists with {existing[name]}, not {subnet}: run `make lab-down` first"
            )
        return
    check_subnet_free(name, subnet)
    podman(
        "network", "create", "--label", f"{LABEL}={name}", "--subnet", str(subnet), "--gateway", str(subnet[1]), name
    )


def container_state(container: str) -> str:
    out = podman("container", "inspect", container, "--format", "{{.State.Status}}", check=False)
    return out.strip()


# A real host's systemd holds every capability; sandboxing directives of services (systemd 257's
# ProtectKernelTunables with User=, for one) need CAP_SYS_ADMIN, which podman drops by default.
CONTAINER_OPTIONS = ("--systemd=always", "--cap-add=SYS_ADMIN")


def host_mounts(lab: str, host: str, device: str) -> tuple[str, ...]:
    """The mounts (`podman run -v`) of a host of this device kind: read-only binds and its volumes."""
    if device != "sonic":
        return ()
    if not K3S_DOUBLE_BIN.is_dir():
        raise LabError(
            f"{K3S_DOUBLE_BIN} is missing (the K3s double's control plane for the switch): "
            "run `make images` or tests/lab/stage-artifacts.sh"
        )
    return (f"{K3S_DOUBLE_BIN}:{K3S_DOUBLE_MOUNT}:ro", f"{persistent_volume(lab, host)}:{SONIC_PERSISTENT_DIR}")


def persistent_volume(lab: str, host: str) -> str:
    """The name of the podman volume that is the switch's /host."""
    return f"{lab}-{host}-host"


def ensure_volume(lab: str, name: str) -> None:
    """Create the named volume with the lab's label (so that `down` removes it) unless it exists."""
    if name not in podman("volume", "ls", "-q", "--filter", f"name=^{name}$").split():
        podman("volume", "create", "--label", f"{LABEL}={lab}", name)


def container_spec(image: str, address: str, mounts: tuple[str, ...] = ()) -> str:
    """What the container was created from: a change of image, options or mounts means recreating it."""
    return hashlib.sha256(" ".join((image, address, *CONTAINER_OPTIONS, *mounts)).encode()).hexdigest()[:12]


def ensure_container(lab: str, host: str, image: str, address: str, mounts: tuple[str, ...] = ()) -> None:
    container = f"{lab}-{host}"
    spec = container_spec(image, address, mounts)
    state = container_state(container)
    if state and container_label(container, f"{LABEL}.spec") != spec:
        print(f"{container}: image, options or mounts changed, recreating", flush=True)
        podman("rm", "-f", "-t", "5", container)
        state = ""
    if not state:
        podman(
            "run",
            "-d",
            "--name",
            container,
            "--hostname",
            host,
            "--network",
            lab,
            "--ip",
            address,
            *CONTAINER_OPTIONS,
            *(arg for mount in mounts for arg in ("-v", mount)),
            "--label",
            f"{LABEL}={lab}",
            "--label",
            f"{LABEL}.spec={spec}",
            image,
        )
    elif state != "running":
        podman("start", container)


def container_label(container: str, label: str) -> str:
    return podman("container", "inspect", container, "--format", f'{{{{index .Config.Labels "{label}"}}}}').strip()


def wait_for_systemd(container: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = podman("exec", container, "systemctl", "is-system-running", check=False).strip()
        if state in ("running", "degraded"):
            return
        time.sleep(1)
    raise LabError(f"systemd in {container} did not finish booting in {timeout:.0f}s: see `podman logs {container}`")


def wait_for_port(address: str, port: int, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, port), timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise LabError(f"{what} does not answer on {address}:{port} after {timeout:.0f}s")


def dress(lab: str, host: str, user: str, address: str, subnet: ipaddress.IPv4Network) -> None:
    """Make the container look like its device and let Ansible in over SSH as `user`."""
    container = f"{lab}-{host}"
    device = host_spec(host)[2]
    pubkey = ssh_key().with_suffix(".pub").read_text()
    files = {f"/home/{user}/.ssh/authorized_keys": pubkey, **device_files(host, address, subnet)}
    for ca in sorted(Path("/usr/local/share/ca-certificates").glob("*.crt")):
        # The package registries are reached through a proxy with its own CA (pip needs it).
        files[f"/usr/local/share/ca-certificates/{ca.name}"] = ca.read_text()
    if Path("/etc/pip.conf").is_file():
        # pip uses its own CA bundle unless told otherwise; the host's pip.conf tells it.
        files["/etc/pip.conf"] = Path("/etc/pip.conf").read_text()
    script = [
        f"id -u {user} >/dev/null 2>&1 || useradd -m -s /bin/bash -G sudo {user}",
        f"echo '{user} ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/90-{user} && chmod 0440 /etc/sudoers.d/90-{user}",
    ]
    for path, content in files.items():
        script.append(f"mkdir -p {Path(path).parent} && cat > {path} <<'EOF_LAB'\n{content.rstrip()}\nEOF_LAB")
    if device == "jetson":
        script += l4t_module_tree_script()
    script += [
        f"chown -R {user}:{user} /home/{user}/.ssh && chmod 700 /home/{user}/.ssh "
        f"&& chmod 600 /home/{user}/.ssh/authorized_keys",
        "update-ca-certificates >/dev/null 2>&1",
    ]
    podman("exec", "-i", container, "/bin/sh", "-eu", stdin="\n".join(script).encode())


def host_spec(host: str) -> tuple[str, str, str, str, int]:
    """The HOSTS entry of a host: (name, Debian release, device dressing, login user, address octet)."""
    return next(spec for spec in HOSTS if spec[0] == host)


def device_files(host: str, address: str, subnet: ipaddress.IPv4Network) -> dict[str, str]:
    """The identity files (path: content) that dress a host as its device, whatever image it runs.

    A switch's sonic_version.yml names a SONiC release built on the host's Debian release
    (files/sonic_version-<release>.yml), as on a real switch.
    """
    _name, release, device, _user, _octet = host_spec(host)
    if device == "sonic":
        return {
            "/etc/sonic/sonic_version.yml": (LAB_DIR / "files" / f"sonic_version-{release}.yml").read_text(),
            "/etc/sonic/config_db.json": sonic_config_db(host, address, subnet),
        }
    if device == "jetson":
        return {"/etc/nv_tegra_release": (LAB_DIR / "files" / "nv_tegra_release").read_text()}
    return {}


def l4t_module_tree_script() -> list[str]:
    """Shell lines that give a nano an L4T-like module tree (files/l4t-modules/) for the kernel it runs.

    The containers share the machine's kernel, so the tree goes under its release (`uname -r`, known
    only when the lab starts). The .ko files are empty placeholders: they are found, never loaded.
    """
    tree = LAB_DIR / "files" / "l4t-modules"
    builtin = (tree / "modules.builtin").read_text().rstrip()
    loadable = [line.strip() for line in (tree / "loadable.txt").read_text().splitlines()]
    loadable = [line for line in loadable if line and not line.startswith("#")]
    return [
        'modules="/lib/modules/$(uname -r)"',
        f'mkdir -p "$modules" && cat > "$modules/modules.builtin" <<\'EOF_LAB\'\n{builtin}\nEOF_LAB',
        *(
            f'mkdir -p "$modules"/{shlex.quote(str(Path(ko).parent))} && : > "$modules"/{shlex.quote(ko)}'
            for ko in loadable
        ),
    ]


def sonic_config_db(host: str, address: str, subnet: ipaddress.IPv4Network) -> str:
    """files/config_db.json (JSON text) with the switch's hostname, management address and data-plane prefixes."""
    config = json.loads((LAB_DIR / "files" / "config_db.json").read_text())
    config["DEVICE_METADATA"]["localhost"]["hostname"] = host
    config["MGMT_INTERFACE"] = {f"eth0|{address}/{subnet.prefixlen}": {"gwaddr": str(subnet[1])}}
    prefixes = SWITCH_PREFIXES.get(host, {})
    for table in DATA_PLANE_TABLES:
        config[table] = {readdressed(key, prefixes): value for key, value in config[table].items()}
    return json.dumps(config, indent=4, sort_keys=True) + "\n"


def readdressed(key: str, prefixes: dict[str, str]) -> str:
    """A config_db key `<ifname>|<prefix>` with the switch's own prefix for that interface; other keys unchanged."""
    ifname, separator, _prefix = key.partition("|")
    return f"{ifname}|{prefixes[ifname]}" if separator and ifname in prefixes else key


def record_host_keys(addresses: list[str], known_hosts: Path) -> None:
    scanned = run("ssh-keyscan", "-T", "5", "-t", "ed25519", *addresses)
    known_hosts.write_text(scanned)


def lab_up(lab: str, subnet: ipaddress.IPv4Network) -> list[dict]:
    # First: missing artifacts or a taken subnet fail before minutes of image building.
    mounts = {spec[0]: host_mounts(lab, spec[0], spec[2]) for spec in HOSTS}  # (name, release, device, user, octet)
    ensure_network(lab, subnet)
    for host, _release, device, _user, _octet in HOSTS:
        if device == "sonic":
            ensure_volume(lab, persistent_volume(lab, host))
    images = build_images()
    key = ssh_key()
    instances = []
    for host, release, device, user, octet in HOSTS:
        address = str(subnet[octet])
        ensure_container(lab, host, images[release, device], address, mounts[host])
        instances.append(
            {
                "instance": host,
                "address": address,
                "user": user,
                "device": device,
                "container": f"{lab}-{host}",
                "port": 22,
                "identity_file": str(key),
            }
        )
    for inst in instances:
        wait_for_systemd(inst["container"])
        dress(lab, inst["instance"], inst["user"], inst["address"], subnet)
        wait_for_port(inst["address"], 22, f"SSH on {inst['container']}")
    record_host_keys([i["address"] for i in instances], STATE / f"known_hosts-{lab}")
    return instances


def lab_down(lab: str) -> None:
    label = f"label={LABEL}={lab}"
    containers = podman("ps", "-a", "-q", "--filter", label).split()
    if containers:
        podman("rm", "-f", "-t", "5", *containers)
    volumes = podman("volume", "ls", "-q", "--filter", label).split()
    if volumes:
        podman("volume", "rm", *volumes)
    if lab in network_subnets():
        podman("network", "rm", lab)
    (STATE / f"known_hosts-{lab}").unlink(missing_ok=True)
    print(f"lab {lab}: removed {len(containers)} containers, {len(volumes)} volumes and its network")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check")
    sub.add_parser("images")
    up = sub.add_parser("up")
    up.add_argument("--name", default="edgefaas-lab")
    up.add_argument("--subnet", default="10.77.0.0/24", type=ipaddress.IPv4Network)
    up.add_argument("--json", type=Path, help="write the instances here (for Molecule)")
    down = sub.add_parser("down")
    down.add_argument("--name", default="edgefaas-lab")
    args = parser.parse_args(argv)
    try:
        check_tools()
        if args.command == "images":
            build_images()
        elif args.command == "up":
            instances = lab_up(args.name, args.subnet)
            if args.json:
                args.json.write_text(json.dumps(instances, indent=2) + "\n")
            for inst in instances:
                print(
                    f"{inst['instance']:8} {inst['address']:15} {inst['device']:7} ssh {inst['user']}@{inst['address']}"
                )
        elif args.command == "down":
            lab_down(args.name)
    except LabError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
