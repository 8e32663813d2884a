"""The warn action: the message becomes the task result's warning; an empty one fails."""

from unittest import mock

import pytest

from ansible_collections.edgefaas.platform.plugins.action.warn import ActionModule


def run_action(args):
    task = mock.MagicMock(args=args, async_val=0, check_mode=False, diff=False)
    action = ActionModule(
        task=task,
        connection=mock.MagicMock(),
        play_context=mock.MagicMock(check_mode=False),
        loader=None,
        templar=None,
        shared_loader_obj=None,
    )
    return action.run(task_vars={})


def test_the_message_is_the_warning_and_nothing_changes():
    result = run_action({"msg": "  nano-1 runs cgroup v1  "})
    assert result["warnings"] == ["nano-1 runs cgroup v1"]
    assert result["msg"] == "nano-1 runs cgroup v1"
    assert result["changed"] is False
    assert not result.get("failed")


@pytest.mark.parametrize("args", [{"msg": ""}, {"msg": "   "}, {}])
def test_an_empty_message_fails_without_a_warning(args):
    result = run_action(args)
    assert result["failed"] is True
    assert "warnings" not in result
