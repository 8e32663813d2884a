"""A pytest plugin for test_molecule_selection.py: the tests a collection selected, with their markers.

Loaded with `-p molecule_markers`; writes {node id: {"destructive": bool, "own_lab": kwargs or None}}
as JSON to the file named by the environment variable EDGEFAAS_COLLECTED.
"""

import json
import os


def pytest_collection_finish(session):
    tests = {}
    for item in session.items:
        own_lab = item.get_closest_marker("own_lab")
        tests[item.nodeid] = {
            "destructive": item.get_closest_marker("destructive") is not None,
            "own_lab": dict(own_lab.kwargs) if own_lab else None,
        }
    with open(os.environ["EDGEFAAS_COLLECTED"], "w", encoding="utf-8") as stream:
        json.dump(tests, stream)
