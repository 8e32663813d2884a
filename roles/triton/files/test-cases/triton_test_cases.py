# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The two Triton test cases (seed task 4.3), run from a pod or a host against a Jetson's Triton.

  python3 triton_test_cases.py classify --samples digits-samples.json [--limit N] [--min-accuracy 0.9]
  python3 triton_test_cases.py health

(a) classify sends labelled images through the digits model and checks the accuracy; (b) health
checks the server's liveness, readiness and metadata and the model's readiness and metadata.
Each prints a JSON report and exits 0 when the test case passes, 1 when it fails. Triton's URL
(host:port) comes from --url, else TRITON_URL, else localhost:8000.
Needs triton.py and triton_digits.py (the collection's plugins/module_utils) beside this file.
"""

import argparse
import json
import os
import sys

from triton import DEFAULT_URL, TritonClient, TritonError
from triton_digits import DIGITS_MODEL, classification_test, health_test


def load_samples(path, limit):
    with open(path, encoding="utf-8") as stream:
        samples = json.load(stream)
    if not samples:
        raise ValueError(f"{path} holds no samples")
    return samples[:limit] if limit else samples


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description="Triton test cases for the digits classifier")
    parser.add_argument("--url", default=os.environ.get("TRITON_URL", DEFAULT_URL), help="Triton HTTP host:port")
    parser.add_argument("--model", default=DIGITS_MODEL)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per HTTP call")
    commands = parser.add_subparsers(dest="command", required=True)
    classify_command = commands.add_parser("classify", help="test case (a): classify labelled sample images")
    classify_command.add_argument("--samples", required=True, help="JSON list of {label, image}")
    classify_command.add_argument("--limit", type=int, default=0, help="use only the first N samples")
    classify_command.add_argument("--min-accuracy", type=float, default=0.9)
    commands.add_parser("health", help="test case (b): server and model health and metadata")
    return parser.parse_args(argv)


def run(arguments):
    client = TritonClient(arguments.url, timeout=arguments.timeout)
    if arguments.command == "classify":
        samples = load_samples(arguments.samples, arguments.limit)
        return classification_test(client, samples, arguments.model, arguments.min_accuracy)
    return health_test(client, arguments.model)


def main(argv=None):
    arguments = parse_arguments(argv)
    try:
        report = run(arguments)
    except (TritonError, ValueError, OSError) as error:
        report = {"test": arguments.command, "passed": False, "error": str(error)}
    print(json.dumps(report, indent=2, sort_keys=True))
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
