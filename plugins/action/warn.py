# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Action of edgefaas.platform.warn: a message as the task's Ansible warning (documented in plugins/modules/warn.py)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("msg",))
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        msg = self._task.args.get("msg")
        if not isinstance(msg, str) or not msg.strip():
            result.update(failed=True, msg="msg must be a non-empty text: the warning to show")
            return result
        msg = msg.strip()
        result.update(changed=False, msg=msg, warnings=[msg])
        return result
