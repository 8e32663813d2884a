# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Digit classifier for Triton's Python backend: multinomial logistic regression in numpy.

Input IMAGE: FP32 [batch, 8, 8], grayscale values 0..16. Outputs PROBABILITIES: FP32
[batch, 10] and LABEL: INT32 [batch, 1]. The weights in weights.json (same directory) come
from tests/lab/triton/train_digits.py; only numpy is needed on the node.
"""

import json
import os
import sys

# The backend stub ignores PYTHONPATH and Debian's site directories, where Debian's
# python3-numpy lives on the nodes.
DEBIAN_DIST_PACKAGES = "/usr/lib/python3/dist-packages"
if os.path.isdir(DEBIAN_DIST_PACKAGES) and DEBIAN_DIST_PACKAGES not in sys.path:
    sys.path.append(DEBIAN_DIST_PACKAGES)

import numpy as np  # noqa: E402
import triton_python_backend_utils as pb_utils  # noqa: E402

WEIGHTS_FORMAT = "edgefaas-digits-logistic-regression/1"


def load_weights(path):
    with open(path, encoding="utf-8") as stream:
        weights = json.load(stream)
    if weights.get("format") != WEIGHTS_FORMAT:
        raise ValueError(f"{path}: expected format {WEIGHTS_FORMAT}, found {weights.get('format')}")
    return {key: np.asarray(weights[key], dtype=np.float32) for key in ("mean", "scale", "coef", "intercept")}


def class_probabilities(weights, images):
    """Softmax of the linear scores of the standardised, flattened images."""
    features = (images.reshape(len(images), -1) - weights["mean"]) / weights["scale"]
    scores = features @ weights["coef"].T + weights["intercept"]
    scores -= scores.max(axis=1, keepdims=True)  # keeps exp() finite
    exponentials = np.exp(scores)
    return exponentials / exponentials.sum(axis=1, keepdims=True)


class TritonPythonModel:
    def initialize(self, args):
        version_dir = os.path.join(args["model_repository"], args["model_version"])
        self.weights = load_weights(os.path.join(version_dir, "weights.json"))

    def execute(self, requests):
        return [self.respond(request) for request in requests]

    def respond(self, request):
        images = pb_utils.get_input_tensor_by_name(request, "IMAGE").as_numpy()
        probabilities = class_probabilities(self.weights, images).astype(np.float32)
        labels = probabilities.argmax(axis=1).astype(np.int32).reshape(-1, 1)
        return pb_utils.InferenceResponse(
            output_tensors=[pb_utils.Tensor("PROBABILITIES", probabilities), pb_utils.Tensor("LABEL", labels)]
        )
