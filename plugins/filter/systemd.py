# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Values rendered into systemd unit files, escaped so that any string stays one value.

Rules from systemd.syntax(7), systemd.service(5) "Command lines" and systemd.exec(5) "Environment=":
words of ExecStart= and assignments of Environment= may be double-quoted and take C escapes
(\\\\, \\", \\n, \\xNN); "%" starts a specifier in nearly every setting ("%%" is a literal "%");
ExecStart= substitutes "$NAME" and "${NAME}" ("$$" is a literal "$"), Environment= does not.
Settings that take one path (WorkingDirectory=, EnvironmentFile=) are not unquoted: only "%" is
escaped there, and what cannot be written (a line break, surrounding blanks) is an error.
"""

from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

# Words that need no quoting in a command line (after "%" and "$" are doubled).
PLAIN_WORD = re.compile(r"^[A-Za-z0-9_@%+=:,./$-]+$")
ENVIRONMENT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
C_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _c_escape(text):
    return "".join(
        C_ESCAPES.get(char) or ("\\x%02x" % ord(char) if ord(char) < 0x20 or ord(char) == 0x7F else char)
        for char in text
    )


def _text(value, what):
    if value is None:
        raise AnsibleFilterError(f"{what}: no value given (None)")
    return str(value)


def systemd_exec_arg(value):
    """One word of ExecStart= (the executable or an argument): the same string after systemd parses it."""
    text = _text(value, "systemd_exec_arg").replace("%", "%%").replace("$", "$$")
    if PLAIN_WORD.match(text):
        return text
    return '"' + _c_escape(text) + '"'


def systemd_environment(variables):
    """A mapping of environment variables -> the values of Environment= lines, one quoted "NAME=value" each,
    sorted by name. A name that is no shell variable name is an error naming it."""
    if not isinstance(variables, dict):
        raise AnsibleFilterError(
            f"systemd_environment takes a mapping of names to values, given {type(variables).__name__}"
        )
    lines = []
    for name in sorted(variables):
        if not ENVIRONMENT_NAME.match(str(name)):
            raise AnsibleFilterError(
                f"environment variable name {name!r} is not valid: use letters, digits and '_', not starting with a digit"
            )
        value = _text(variables[name], f"environment variable {name}")
        lines.append('"' + _c_escape(f"{name}={value}").replace("%", "%%") + '"')
    return lines


def systemd_path(value):
    """A value of a setting that takes one path or name as written (WorkingDirectory=, EnvironmentFile=, User=)."""
    text = _text(value, "systemd_path")
    if not text or text != text.strip() or any(ord(char) < 0x20 or ord(char) == 0x7F for char in text):
        raise AnsibleFilterError(
            f"{text!r} cannot be written into a unit file: systemd strips surrounding blanks and a line break ends "
            "the setting; choose a path without them"
        )
    return text.replace("%", "%%")


class FilterModule:
    def filters(self):
        return {
            "systemd_exec_arg": systemd_exec_arg,
            "systemd_environment": systemd_environment,
            "systemd_path": systemd_path,
        }
