"""program_start_failure: a service's program that cannot run surfaces as its cause, for any service."""

from ansible_collections.edgefaas.platform.plugins.filter.program_start import program_start_failure

REMEDY = "install the Triton release tarball of this board"
# As `journalctl --unit tritonserver --output cat` shows them (systemd 252) for an aarch64 tarball on x86_64.
WRONG_ARCHITECTURE = [
    "tritonserver.service: Failed to execute /opt/tritonserver/current/bin/tritonserver: Exec format error",
    "tritonserver.service: Failed at step EXEC spawning /opt/tritonserver/current/bin/tritonserver: Exec format error",
    "tritonserver.service: Main process exited, code=exited, status=203/EXEC",
]


def test_a_program_for_another_architecture_is_named_with_the_remedy():
    cause = program_start_failure(WRONG_ARCHITECTURE, "tritonserver", REMEDY)
    assert cause == (
        "/opt/tritonserver/current/bin/tritonserver is built for another CPU architecture than this host's "
        "(Exec format error): " + REMEDY
    )


def test_an_exec_status_without_the_path_names_the_program():
    cause = program_start_failure("tritonserver.service: Main process exited, code=exited, status=203/EXEC", "K3s", "x")
    assert cause.startswith("systemd could not execute K3s (status 203/EXEC")


def test_glibc_versions_and_missing_libraries_are_each_named():
    journal = (
        "/opt/k3s/current/k3s: /lib/libc.so.6: version `GLIBC_2.34' not found (required by /opt/k3s/current/k3s)\n"
        "/opt/k3s/current/k3s: error while loading shared libraries: libfoo.so.1: cannot open shared object file"
    )
    reasons = program_start_failure(journal, "K3s", "y").split("; ")
    assert reasons == [
        "/opt/k3s/current/k3s needs GLIBC_2.34, newer than this host's C library (glibc): y",
        "/opt/k3s/current/k3s needs libfoo.so.1, which this host lacks: y",
    ]


def test_a_journal_without_such_lines_names_nothing():
    assert program_start_failure(["Started tritonserver.service."], "tritonserver", REMEDY) == ""
