# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Filter program_start_failure: why a service's program could not run, from its journal."""

from __future__ import annotations

from ansible_collections.edgefaas.platform.plugins.plugin_utils.program_start import program_start_failures


def program_start_failure(journal, program, remedy):
    """Journal lines -> one sentence per reason `program` could not run ('' when none), each with `remedy`."""
    return "; ".join(program_start_failures(journal, program, remedy))


class FilterModule:
    def filters(self):
        return {"program_start_failure": program_start_failure}
