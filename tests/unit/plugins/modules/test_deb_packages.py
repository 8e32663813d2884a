"""deb_packages: install through apt-get and dpkg-query, checked against a fake dpkg database.

The fake answers as apt-get and dpkg-query do (exit codes, Inst lines, E: messages; see
module_utils/deb_packages.py for the sources) and records every command, so the tests see what
would run on a host.
"""

import os

import pytest

from ansible_collections.edgefaas.platform.plugins.module_utils import deb_packages as utils
from ansible_collections.edgefaas.platform.plugins.modules import deb_packages

DAY = 86400


class FakeDpkg:
    """A host's dpkg database and apt index: installed {name: version}, available {name: (version, deps)}."""

    def __init__(self, installed, available, provides=None):
        self.installed = dict(installed)
        self.available = dict(available)
        self.provides = provides or {}
        self.commands = []
        self.fail = {}  # first word after apt-get (update, install) -> (rc, stderr)

    def __call__(self, argv, environ_update=None, **kwargs):
        assert environ_update == utils.APT_ENVIRONMENT
        self.commands.append(argv)
        if argv[0] == "dpkg-query":
            return self.query(argv[-1])
        assert argv[0] == "apt-get"
        if argv[1] in self.fail and "-s" not in argv:
            return (*self.fail[argv[1]][:1], "", self.fail[argv[1]][1])
        if argv[1] == "update":
            return 0, "Hit:1 http://deb.debian.org/debian bookworm InRelease\nReading package lists...\n", ""
        names = argv[argv.index("--") + 1 :]
        unknown = [n for n in names if n not in self.available and n not in self.provides]
        if unknown:
            return 100, "Reading package lists...\n", "".join(f"E: Unable to locate package {n}\n" for n in unknown)
        plan = self.resolve(names)
        if "-s" in argv:
            lines = [f"Inst {n} ({v} Debian:12.12/stable [amd64])" for n, v in plan]
            lines += [f"Conf {n} ({v} Debian:12.12/stable [amd64])" for n, v in plan]
            return 0, "NOTE: This is only a simulation!\n" + "\n".join(lines) + "\n", ""
        self.installed.update(plan)
        return 0, "".join(f"Setting up {n} ({v}) ...\n" for n, v in plan), ""

    def query(self, name):
        if name in self.installed:
            return 0, f"install ok installed\t{self.installed[name]}\n", ""
        return 1, "", f"dpkg-query: no packages found matching {name}\n"

    def resolve(self, names):
        plan = []
        for name in names:
            name = self.provides.get(name, name)
            if name in self.installed or any(p[0] == name for p in plan):
                continue
            version, deps = self.available[name]
            plan += [(d, self.available[d][0]) for d in deps if d not in self.installed]
            plan.append((name, version))
        return plan

    def apt_commands(self, word):
        return [c for c in self.commands if c[0] == "apt-get" and c[1] == word]


@pytest.fixture
def index(tmp_path, monkeypatch):
    paths = utils.IndexPaths(lists=str(tmp_path / "lists"), stamp=str(tmp_path / "update-success-stamp"))
    os.mkdir(paths.lists)
    os.utime(paths.lists, (0, 0))  # never refreshed, like the lab's images
    monkeypatch.setattr(deb_packages, "INDEX", paths)
    return paths


@pytest.fixture
def host(monkeypatch):
    fake = FakeDpkg(
        installed={"python3": "3.11.2-1+b1"},
        available={
            "libpython3.11": ("3.11.2-6+deb12u6", ["libpython3.11-stdlib"]),
            "libpython3.11-stdlib": ("3.11.2-6+deb12u6", []),
            "python3-numpy": ("1:1.24.2-1+deb12u1", []),
            "python3": ("3.11.2-1+b1", []),
        },
    )
    monkeypatch.setattr(deb_packages.AnsibleModule, "run_command", lambda self, argv, **kw: fake(argv, **kw))
    return fake


def test_installs_the_missing_packages_and_their_dependencies(run_module, host, index):
    args = {"name": ["libpython3.11", "python3-numpy", "python3"]}
    result = run_module(deb_packages, args)
    assert result["failed"] is False and result["changed"] is True
    assert result["installed"] == [
        "libpython3.11-stdlib=3.11.2-6+deb12u6",
        "libpython3.11=3.11.2-6+deb12u6",
        "python3-numpy=1:1.24.2-1+deb12u1",
    ]
    assert result["packages"] == {
        "libpython3.11": "3.11.2-6+deb12u6",
        "python3-numpy": "1:1.24.2-1+deb12u1",
        "python3": "3.11.2-1+b1",
    }
    assert (
        result["diff"]["before"]
        == "libpython3.11 (not installed)\npython3-numpy (not installed)\npython3 3.11.2-1+b1\n"
    )
    assert (
        result["diff"]["after"]
        == "libpython3.11 3.11.2-6+deb12u6\npython3-numpy 1:1.24.2-1+deb12u1\npython3 3.11.2-1+b1\n"
    )
    # only the missing ones reach apt-get, never upgraded, and no index refresh was asked for
    (install,) = [c for c in host.apt_commands("install") if "-s" not in c]
    assert install[install.index("--") + 1 :] == ["libpython3.11", "python3-numpy"]
    assert "--no-upgrade" in install and "Dpkg::Options::=--force-confold" in install
    assert host.apt_commands("update") == [] and result["cache_updated"] is False


def test_a_second_run_changes_nothing_and_calls_no_install(run_module, host, index):
    run_module(deb_packages, {"name": ["python3-numpy"]})
    host.commands.clear()
    again = run_module(deb_packages, {"name": ["python3-numpy"]})
    assert again["changed"] is False and again["installed"] == []
    assert again["diff"]["before"] == again["diff"]["after"] == "python3-numpy 1:1.24.2-1+deb12u1\n"
    assert host.apt_commands("install") == []


def test_check_mode_reports_what_would_be_installed_and_installs_nothing(run_module, host, index):
    result = run_module(deb_packages, {"name": ["libpython3.11"], "cache_valid_time": DAY}, check_mode=True)
    assert result["changed"] is True
    assert result["installed"] == ["libpython3.11-stdlib=3.11.2-6+deb12u6", "libpython3.11=3.11.2-6+deb12u6"]
    assert result["diff"] == {"before": "libpython3.11 (not installed)\n", "after": "libpython3.11 3.11.2-6+deb12u6\n"}
    assert all("-s" in c for c in host.apt_commands("install"))
    assert host.apt_commands("update") == [] and result["cache_updated"] is False  # the index is left alone
    assert "libpython3.11" not in host.installed


def test_check_mode_with_an_index_that_does_not_know_the_package_yet_warns(run_module, host, index, monkeypatch):
    warnings = []
    monkeypatch.setattr(deb_packages.AnsibleModule, "warn", lambda self, text: warnings.append(text))
    host.available.pop("python3-numpy")
    result = run_module(deb_packages, {"name": ["python3-numpy"], "update_cache": True}, check_mode=True)
    assert result["failed"] is False and result["changed"] is True
    assert result["installed"] == ["python3-numpy"]
    assert result["packages"] == {"python3-numpy": "(to be installed)"}
    assert len(warnings) == 1 and "E: Unable to locate package python3-numpy" in warnings[0]


def test_a_stale_index_is_refreshed_and_that_is_no_change(run_module, host, index):
    result = run_module(deb_packages, {"cache_valid_time": DAY})
    assert result["changed"] is False and result["cache_updated"] is True
    assert len(host.apt_commands("update")) == 1
    assert result["cache_update_time"] == int(os.stat(index.lists).st_mtime) > 0
    # fresh now: not refreshed again within the valid time
    again = run_module(deb_packages, {"cache_valid_time": DAY})
    assert again["cache_updated"] is False and len(host.apt_commands("update")) == 1


def test_update_cache_without_valid_time_refreshes_every_run(run_module, host, index):
    first = run_module(deb_packages, {"update_cache": True})
    second = run_module(deb_packages, {"update_cache": True})
    assert first["cache_updated"] is True and second["cache_updated"] is True
    assert len(host.apt_commands("update")) == 2


def test_ubuntus_success_stamp_counts_as_a_refresh(run_module, host, index):
    with open(index.stamp, "w"):
        pass  # touched just now by apt's Post-Invoke-Success hook
    assert run_module(deb_packages, {"cache_valid_time": DAY})["cache_updated"] is False
    assert host.apt_commands("update") == []


def test_a_virtual_package_provided_by_an_installed_one_is_no_change(run_module, host, index):
    host.provides["python3-dev-virtual"] = "python3"
    result = run_module(deb_packages, {"name": ["python3-dev-virtual"]})
    assert result["changed"] is False and host.apt_commands("install") == [c for c in host.commands if "-s" in c]


def test_a_package_the_index_does_not_have_fails_quoting_apt(run_module, host, index):
    result = run_module(deb_packages, {"name": ["parsec-service"]})
    assert result["failed"] is True
    assert (
        "apt-get cannot install parsec-service: E: Unable to locate package parsec-service (exit 100)" in result["msg"]
    )
    assert "update_cache: true" in result["msg"]
    assert "parsec-service" not in host.installed


def test_a_failed_refresh_fails_quoting_apt_and_installs_nothing(run_module, host, index):
    host.fail["update"] = (
        100,
        "E: The repository 'http://deb.debian.org/debian bookworm Release' does not have a Release file.\n",
    )
    result = run_module(deb_packages, {"name": ["python3-numpy"], "update_cache": True})
    assert result["failed"] is True
    assert result["msg"].startswith("`apt-get update` failed (exit 100): E: The repository")
    assert "/etc/apt/sources.list" in result["msg"]
    assert host.apt_commands("install") == []


def test_a_failed_install_fails_quoting_apt(run_module, host, index):
    host.fail["install"] = (
        100,
        "W: something\nE: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 42\n",
    )
    result = run_module(deb_packages, {"name": ["python3-numpy"], "lock_timeout": 5})
    assert result["failed"] is True
    assert "`apt-get install python3-numpy` failed (exit 100): W: something E: Could not get lock" in result["msg"]
    assert "DPkg::Lock::Timeout=5" in host.apt_commands("install")[-1]


@pytest.mark.parametrize("name", ["Parsec", "parsec service", "x", "pkg;rm -rf /", "-o", "pkg=1.0"])
def test_what_is_not_a_package_name_is_refused_before_any_command(run_module, host, index, name):
    result = run_module(deb_packages, {"name": ["python3-numpy", name]})
    assert result["failed"] is True and repr(name) in result["msg"] and "Debian Policy" in result["msg"]
    assert host.commands == []


@pytest.mark.parametrize(("option", "flag"), [(True, "--install-recommends"), (False, "--no-install-recommends")])
def test_install_recommends_reaches_apt_get(run_module, host, index, option, flag):
    run_module(deb_packages, {"name": ["python3-numpy"], "install_recommends": option})
    assert all(flag in c for c in host.apt_commands("install"))


def test_without_install_recommends_apts_configuration_decides(run_module, host, index):
    run_module(deb_packages, {"name": ["python3-numpy"]})
    assert not any("recommends" in word for c in host.apt_commands("install") for word in c)


@pytest.mark.parametrize(
    ("stdout", "version"),
    [
        ("install ok installed\t1.0\n", "1.0"),
        ("deinstall ok config-files\t1.0\n", ""),
        ("install ok half-configured\t1.0\n", ""),
        ("deinstall ok config-files\t1.0\ninstall ok installed\t1.0\n", "1.0"),  # Multi-Arch
    ],
)
def test_parse_status(stdout, version):
    assert utils.parse_status(stdout) == version


def test_parse_simulation_reads_new_and_upgraded_packages():
    out = (
        "NOTE: This is only a simulation!\n"
        "Inst libc6 [2.36-9] (2.36-9+deb12u9 Debian-Security:12/stable-security [amd64])\n"
        "Inst parsec-service (1.3.0-1 Debian:13.1/stable [amd64])\n"
        "Conf parsec-service (1.3.0-1 Debian:13.1/stable [amd64])\n"
    )
    assert utils.parse_simulation(out) == [("libc6", "2.36-9+deb12u9"), ("parsec-service", "1.3.0-1")]
