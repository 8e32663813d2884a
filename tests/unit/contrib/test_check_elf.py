"""contrib/parsec-bundle/check_elf.py: what keeps an ELF program from starting on the target."""

import check_elf  # contrib/parsec-bundle (pyproject's pythonpath)
import pytest

# readelf -W output (binutils 2.40) of an aarch64 program.
DYNSYMS = """
Symbol table '.dynsym' contains 5 entries:
   Num:    Value          Size Type    Bind   Vis      Ndx Name
     0: 0000000000000000     0 NOTYPE  LOCAL  DEFAULT  UND
     1: 0000000000000000     0 FUNC    GLOBAL DEFAULT  UND memcpy@GLIBC_2.17 (2)
     2: 0000000000000000     0 FUNC    GLOBAL DEFAULT  UND statx@GLIBC_2.28 (3)
     3: 0000000000000000     0 FUNC    WEAK   DEFAULT  UND __cxa_thread_atexit_impl@GLIBC_2.18 (4)
     4: 0000000000411000     8 OBJECT  GLOBAL DEFAULT   23 environ@GLIBC_2.34 (5)
"""
VERSION_NEEDS = """
Version needs section '.gnu.version_r' contains 1 entry:
 Addr: 0x0000000000000510  Offset: 0x000510  Link: 6 (.dynstr)
  000000: Version: 1  File: libc.so.6  Cnt: 4
  0x0010:   Name: GLIBC_2.17  Flags: none  Version: 2
  0x0020:   Name: GLIBC_2.28  Flags: none  Version: 3
  0x0030:   Name: GLIBC_2.18  Flags: none  Version: 4
  0x0040:   Name: GLIBC_2.29  Flags: none  Version: 6
"""


def test_symbols_newer_than_the_targets_glibc_are_named():
    # environ is defined by the program, not needed; GLIBC_2.29 is needed by no listed symbol.
    assert check_elf.glibc_too_new(DYNSYMS, VERSION_NEEDS, "2.27") == ["statx@GLIBC_2.28", "(no symbol)@GLIBC_2.29"]
    assert check_elf.glibc_too_new(DYNSYMS, VERSION_NEEDS, "2.29") == []


def test_versions_compare_as_numbers_not_text():
    assert check_elf.glibc_version("GLIBC_2.3.4") < check_elf.glibc_version("GLIBC_2.27")


def test_machine_and_needed_libraries_are_read():
    assert check_elf.elf_machine("ELF Header:\n  Class:   ELF64\n  Machine:                           AArch64\n") == (
        "AArch64"
    )
    assert check_elf.elf_machine("not an ELF header") == ""
    dynamic = (
        " 0x0000000000000001 (NEEDED)             Shared library: [libcrypto.so.3]\n"
        " 0x0000000000000001 (NEEDED)             Shared library: [libc.so.6]\n"
    )
    assert check_elf.needed_libraries(dynamic) == ["libcrypto.so.3", "libc.so.6"]


def test_a_program_of_this_x86_64_host_fails_every_l4t_check(capsys):
    """A real ELF file: Debian 12's /bin/true is x86_64 and needs __libc_start_main@GLIBC_2.34."""
    argv = ["--machine", "AArch64", "--max-glibc", "2.27", "--forbid-needed", "libc.so.6", "/bin/true"]
    assert check_elf.main(argv) == 1
    problems = capsys.readouterr().err.splitlines()
    assert problems[0] == "check_elf: /bin/true: built for 'Advanced Micro Devices X86-64', not 'AArch64'"
    assert problems[1].startswith("check_elf: /bin/true: needs a glibc newer than 2.27: ")
    assert "__libc_start_main@GLIBC_2.34" in problems[1]
    assert problems[2] == "check_elf: /bin/true: links libc.so.6 (DT_NEEDED), which the target does not have"


def test_a_file_readelf_cannot_read_is_a_problem_not_a_crash(tmp_path, capsys):
    (tmp_path / "text").write_text("not ELF")
    assert check_elf.main(["--machine", "AArch64", "--max-glibc", "2.27", str(tmp_path / "text")]) == 1
    assert "readelf -h" in capsys.readouterr().err


@pytest.mark.parametrize("newest", ["2.33", "2.34"])
def test_the_host_program_passes_where_its_glibc_is_new_enough(newest):
    expected = [] if newest == "2.34" else ["__libc_start_main@GLIBC_2.34"]
    too_new = check_elf.glibc_too_new(check_elf.readelf("/bin/true", "--dyn-syms"), "", newest)
    assert [symbol for symbol in too_new if symbol.startswith("__libc_start_main")] == expected
