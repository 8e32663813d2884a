"""Runs a module's main() in-process with given arguments and returns its result."""

import contextlib
from unittest import mock

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args


class ModuleExit(Exception):
    def __init__(self, result):
        super().__init__(result)
        self.result = result


def _exit_json(self, **result):
    raise ModuleExit(dict(result, failed=False))


def _fail_json(self, msg, **result):
    raise ModuleExit(dict(result, failed=True, msg=msg))


@pytest.fixture
def run_module():
    def run(module, args, check_mode=False):
        module_args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=True)
        with contextlib.ExitStack() as stack:
            stack.enter_context(patch_module_args(module_args))
            stack.enter_context(mock.patch.object(AnsibleModule, "exit_json", _exit_json))
            stack.enter_context(mock.patch.object(AnsibleModule, "fail_json", _fail_json))
            caught = stack.enter_context(pytest.raises(ModuleExit))
            module.main()
        return caught.value.result

    return run
