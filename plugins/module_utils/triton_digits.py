# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Client of the digits classifier served by Triton, and the two Triton test cases.

classify(image) turns a grayscale image into the model's input (8x8, values 0..16, the layout of
scikit-learn's digits) and returns the predicted digit with the class probabilities;
classification_test() and health_test() are the two test cases (seed task 4.3), run by
roles/triton/files/test-cases/triton_test_cases.py. Standard library only, so that EdgeFaaS
function B, Kubernetes Jobs and lab hosts use this file as it is, beside triton.py.
"""

try:
    from ansible_collections.edgefaas.platform.plugins.module_utils.triton import (
        DEFAULT_URL,
        ShapeError,
        TritonClient,
    )
except ImportError:  # used as a plain file beside triton.py
    from triton import DEFAULT_URL, ShapeError, TritonClient

DIGITS_MODEL = "digits"
IMAGE_INPUT = "IMAGE"
PROBABILITIES_OUTPUT = "PROBABILITIES"
LABEL_OUTPUT = "LABEL"
IMAGE_SIDE = 8
MODEL_MAX_VALUE = 16  # scikit-learn's digits count set pixels in 4x4 blocks: 0..16


def image_size(image):
    """(height, width) of a rectangular 2-D image, or ShapeError naming what was given."""
    rows = [list(row) for row in image]
    if not rows or not rows[0]:
        raise ShapeError("expected a 2-D grayscale image, given an empty one")
    width = len(rows[0])
    for number, row in enumerate(rows):
        if len(row) != width:
            raise ShapeError(f"expected a rectangular image; row 0 has {width} values, row {number} has {len(row)}")
    return len(rows), width


def preprocess(image, value_range=MODEL_MAX_VALUE):
    """The model's 8x8 input from a grayscale image whose sides are multiples of 8 (8x8, 32x32, ...).

    Each output pixel is the mean of its block, rescaled from 0..value_range (16 for the digits
    layout, 255 for 8-bit images, 1 for binary bitmaps) to 0..16.
    """
    height, width = image_size(image)
    if height % IMAGE_SIDE or width % IMAGE_SIDE:
        raise ShapeError(
            f"expected an image of {IMAGE_SIDE}x{IMAGE_SIDE} pixels or a multiple of it (such as 32x32), "
            f"given {height}x{width}"
        )
    rows = [[float(value) for value in row] for row in image]
    lowest, highest = min(min(row) for row in rows), max(max(row) for row in rows)
    if lowest < 0 or highest > value_range:
        raise ValueError(f"pixel values must lie in 0..{value_range}, found {lowest}..{highest}")
    block_height, block_width = height // IMAGE_SIDE, width // IMAGE_SIDE
    scale = MODEL_MAX_VALUE / (value_range * block_height * block_width)
    return [
        [
            scale * _block_sum(rows, y * block_height, x * block_width, block_height, block_width)
            for x in range(IMAGE_SIDE)
        ]
        for y in range(IMAGE_SIDE)
    ]


def _block_sum(rows, top, left, height, width):
    return sum(sum(row[left : left + width]) for row in rows[top : top + height])


def max_batch_size(client, model):
    return max(1, int(client.model_config(model).get("max_batch_size", 0)))


def classify_many(images, client, model=DIGITS_MODEL, value_range=MODEL_MAX_VALUE):
    """Predictions for many images, sent in batches as large as the model takes."""
    inputs = [preprocess(image, value_range) for image in images]
    batch = max_batch_size(client, model)
    predictions = []
    for start in range(0, len(inputs), batch):
        chunk = inputs[start : start + batch]
        flat = [value for image in chunk for row in image for value in row]
        outputs = client.infer(model, {IMAGE_INPUT: ([len(chunk), IMAGE_SIDE, IMAGE_SIDE], flat)})
        predictions.extend(_predictions(outputs))
    return predictions


def _predictions(outputs):
    shape, probabilities = outputs[PROBABILITIES_OUTPUT]
    classes = shape[1]
    labels = outputs[LABEL_OUTPUT][1]
    return [
        {"label": int(label), "probabilities": probabilities[index * classes : (index + 1) * classes]}
        for index, label in enumerate(labels)
    ]


def classify(image, url=DEFAULT_URL, model=DIGITS_MODEL, value_range=MODEL_MAX_VALUE, client=None):
    """The predicted digit of one image: {"label": int, "probabilities": [10 floats]}."""
    return classify_many([image], client or TritonClient(url), model, value_range)[0]


# The two test cases


def classification_test(client, samples, model, min_accuracy):
    """Test case (a): classify labelled sample images and check the accuracy."""
    predictions = classify_many([sample["image"] for sample in samples], client, model)
    correct = sum(prediction["label"] == sample["label"] for prediction, sample in zip(predictions, samples))
    accuracy = correct / len(samples)
    examples = [
        {
            "expected": sample["label"],
            "predicted": prediction["label"],
            "probability": round(max(prediction["probabilities"]), 4),
        }
        for prediction, sample in list(zip(predictions, samples))[:5]
    ]
    return {
        "test": "classify",
        "model": model,
        "images": len(samples),
        "correct": correct,
        "accuracy": round(accuracy, 4),
        "min_accuracy": min_accuracy,
        "examples": examples,
        "passed": accuracy >= min_accuracy,
    }


def health_test(client, model):
    """Test case (b): server liveness, readiness and metadata, model readiness and metadata."""
    report = {
        "test": "health",
        "url": client.base_url,
        "server_live": client.is_server_live(),
        "server_ready": client.is_server_ready(),
        "model": model,
        "model_ready": client.is_model_ready(model),
    }
    if report["server_live"]:
        server = client.server_metadata()
        report["server"] = {"name": server["name"], "version": server["version"]}
    if report["model_ready"]:
        metadata = client.model_metadata(model)
        report["model_versions"] = metadata["versions"]
        report["model_inputs"] = metadata["inputs"]
        report["model_outputs"] = metadata["outputs"]
    report["passed"] = report["server_live"] and report["server_ready"] and report["model_ready"]
    return report
