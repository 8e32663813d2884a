# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Checks that ELF programs can start on a target, before they are shipped to it.

    python3 contrib/parsec-bundle/check_elf.py --machine AArch64 --max-glibc 2.27 \
        --forbid-needed libcrypto.so.3 --forbid-needed libssl.so.3 bin/parsec bin/parsec-tool

For each file: its ELF machine (readelf's "Machine:" field, e.g. "AArch64", "Advanced Micro
Devices X86-64"), the newest glibc symbol version it needs (a program needing GLIBC_2.28 fails to
start on glibc 2.27 with "version `GLIBC_2.28' not found"), and its DT_NEEDED libraries.
Exit status 0 when every file passes; 1 with one line per problem on stderr, naming the symbols
that need a newer glibc. Reads the files with binutils' readelf, which reads ELF files of every
architecture (the target's tools are not needed).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

# readelf -W --dyn-syms: "   5: 0000000000000000     0 FUNC    GLOBAL DEFAULT  UND memcpy@GLIBC_2.17 (2)"
UNDEFINED_VERSIONED_SYMBOL = re.compile(r"\sUND\s+(?P<name>[^@\s]+)@+(?P<version>GLIBC_[0-9.]+)")
# readelf -W -V, the version needs (.gnu.version_r): "  0x0010:   Name: GLIBC_2.17  Flags: none  Version: 3"
NEEDED_VERSION = re.compile(r"Name: (?P<version>GLIBC_[0-9.]+)\s+Flags:")
# readelf -d: " 0x0000000000000001 (NEEDED)             Shared library: [libc.so.6]"
NEEDED_LIBRARY = re.compile(r"\(NEEDED\)\s+Shared library: \[(?P<library>[^\]]+)\]")
MACHINE = re.compile(r"^\s*Machine:\s+(?P<machine>.+?)\s*$", re.MULTILINE)


def readelf(path, *options):
    """readelf's output for path (str); raises RuntimeError with readelf's message when it fails."""
    result = subprocess.run(["readelf", "-W", *options, path], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError("readelf {} {}: {}".format(" ".join(options), path, result.stderr.strip()))
    return result.stdout


def glibc_version(name):
    """'GLIBC_2.27' -> (2, 27)."""
    return tuple(int(part) for part in name.split("_", 1)[1].split(".") if part)


def elf_machine(header_text):
    """readelf -h output -> the Machine field ('AArch64'), or '' when there is none."""
    match = MACHINE.search(header_text)
    return match.group("machine") if match else ""


def needed_libraries(dynamic_text):
    """readelf -d output -> the DT_NEEDED sonames, in order (['libc.so.6', ...])."""
    return NEEDED_LIBRARY.findall(dynamic_text)


def glibc_too_new(dynsyms_text, version_needs_text, newest):
    """Symbols needing a glibc newer than newest ('2.27'): ['symbol@GLIBC_2.28', ...], sorted.

    From the undefined dynamic symbols (readelf --dyn-syms) and the version needs
    (readelf -V); a needed version that no symbol names is listed as '(no symbol)@GLIBC_x'.
    """
    limit = glibc_version("GLIBC_" + newest)
    offenders = set()
    named_versions = set()
    for match in UNDEFINED_VERSIONED_SYMBOL.finditer(dynsyms_text):
        named_versions.add(match.group("version"))
        if glibc_version(match.group("version")) > limit:
            offenders.add("{}@{}".format(match.group("name"), match.group("version")))
    for version in NEEDED_VERSION.findall(version_needs_text):
        if version not in named_versions and glibc_version(version) > limit:
            offenders.add("(no symbol)@{}".format(version))
    return sorted(offenders, key=lambda offender: (glibc_version(offender.split("@")[1]), offender))


def problems(path, machine, newest_glibc, forbidden):
    """What keeps the ELF file at path from starting on the target: a list of messages, [] when none."""
    found = []
    actual = elf_machine(readelf(path, "-h"))
    if actual != machine:
        found.append("{}: built for {!r}, not {!r}".format(path, actual or "no ELF machine", machine))
    too_new = glibc_too_new(readelf(path, "--dyn-syms"), readelf(path, "-V"), newest_glibc)
    if too_new:
        found.append(
            "{}: needs a glibc newer than {}: {}".format(path, newest_glibc, ", ".join(too_new)),
        )
    linked = [library for library in needed_libraries(readelf(path, "-d")) if library in forbidden]
    if linked:
        found.append("{}: links {} (DT_NEEDED), which the target does not have".format(path, ", ".join(linked)))
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--machine", required=True, help="readelf's Machine field, e.g. AArch64")
    parser.add_argument("--max-glibc", required=True, help="the target's glibc, e.g. 2.27")
    parser.add_argument("--forbid-needed", action="append", default=[], help="a soname the target lacks")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    found = []
    for path in args.files:
        try:
            found.extend(problems(path, args.machine, args.max_glibc, set(args.forbid_needed)))
        except RuntimeError as error:
            found.append(str(error))
    for problem in found:
        sys.stderr.write("check_elf: {}\n".format(problem))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
