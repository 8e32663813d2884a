# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Why a service's program could not run on its host, read from the service's journal.

A wrong artifact (built for another CPU architecture, against a newer glibc, or needing a library
the host lacks) must surface as that cause, not as a service that never answered. The lines are
those systemd logs for its exec step (status 203/EXEC: systemd.exec(5), "PROCESS EXIT CODES") and
glibc's dynamic loader (ld.so(8)) prints.
"""

from __future__ import annotations

import re

EXEC_FORMAT_ERROR = re.compile(r"Failed to execute (\S+): Exec format error")
EXEC_STATUS = "status=203/EXEC"
GLIBC_NOT_FOUND = re.compile(r"(\S+): \S+: version `(GLIBC_[0-9.]+)' not found")
LIBRARY_NOT_FOUND = re.compile(r"(\S+): error while loading shared libraries: (\S+): cannot open shared object file")


def _glibc_version(name):
    """'GLIBC_2.38' -> (2, 38), for sorting."""
    return tuple(int(part) for part in name.split("_", 1)[1].split("."))


def program_start_failures(journal, program, remedy):
    """Journal lines (list or text) -> why `program` could not run on the host, each with `remedy`.

    `program` names the service's program in the messages ("Parsec's program"), `remedy` says what
    to install instead. Returns a list of sentences, [] when the journal shows no such failure.
    """
    text = "\n".join(journal) if isinstance(journal, list) else str(journal or "")
    reasons = []
    for path in dict.fromkeys(EXEC_FORMAT_ERROR.findall(text)):
        reasons.append(
            "{} is built for another CPU architecture than this host's (Exec format error): {}".format(path, remedy)
        )
    if not reasons and EXEC_STATUS in text:
        reasons.append(
            "systemd could not execute {} (status 203/EXEC: missing, not executable, or built for "
            "another CPU architecture): {}".format(program, remedy)
        )
    needed = {}
    for path, version in GLIBC_NOT_FOUND.findall(text):
        needed.setdefault(path, set()).add(version)
    for path, versions in needed.items():
        reasons.append(
            "{} needs {}, newer than this host's C library (glibc): {}".format(
                path, ", ".join(sorted(versions, key=_glibc_version)), remedy
            )
        )
    for path, library in dict.fromkeys(LIBRARY_NOT_FOUND.findall(text)):
        reasons.append("{} needs {}, which this host lacks: {}".format(path, library, remedy))
    return reasons
