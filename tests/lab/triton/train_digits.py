# Copyright: EdgeFaaS platform developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Train the lab's default Triton model on scikit-learn's bundled 8x8 digits.

Writes the weights of a multinomial logistic regression as JSON into MODEL_DIR/1/weights.json
(beside roles/triton/files/models/digits/1/model.py, which needs only numpy on the node) and,
with --samples, the held-out images with their labels for the client test cases. The split,
the solver and the rounding are fixed, so a rebuild writes the same bytes.

Needs scikit-learn and numpy (pinned in the collection's dev dependencies).
Usage: python train_digits.py MODEL_DIR [--samples FILE] [--min-accuracy 0.9]
"""

import argparse
import json
import os
import sys

from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

WEIGHTS_FORMAT = "edgefaas-digits-logistic-regression/1"
SPLIT_SEED = 0
HELD_OUT_FRACTION = 0.25
SIGNIFICANT_DIGITS = 7  # float32 precision; keeps the JSON small and stable


def rounded(values):
    return [float(f"{value:.{SIGNIFICANT_DIGITS}g}") for value in values]


def split_digits():
    digits = load_digits()
    return train_test_split(
        digits.images,
        digits.target,
        test_size=HELD_OUT_FRACTION,
        random_state=SPLIT_SEED,
        stratify=digits.target,
    )


def standardisation(train_images):
    flat = train_images.reshape(len(train_images), -1)
    mean = flat.mean(axis=0)
    scale = flat.std(axis=0)
    scale[scale == 0] = 1.0  # pixels that are always blank
    return mean, scale


def train(train_images, train_labels, mean, scale):
    features = (train_images.reshape(len(train_images), -1) - mean) / scale
    classifier = LogisticRegression(C=0.1, max_iter=5000)
    return classifier.fit(features, train_labels)


def accuracy(classifier, images, labels, mean, scale):
    features = (images.reshape(len(images), -1) - mean) / scale
    return float((classifier.predict(features) == labels).mean())


def weights_document(classifier, mean, scale, held_out_accuracy):
    return {
        "format": WEIGHTS_FORMAT,
        "classes": [int(label) for label in classifier.classes_],
        "mean": rounded(mean),
        "scale": rounded(scale),
        "coef": [rounded(row) for row in classifier.coef_],
        "intercept": rounded(classifier.intercept_),
        "held_out_accuracy": round(held_out_accuracy, 4),
    }


def samples_document(images, labels):
    return [
        {"label": int(label), "image": [[int(value) for value in row] for row in image]}
        for image, label in zip(images, labels)
    ]


def write_json(path, document):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as stream:
        json.dump(document, stream, separators=(",", ":"), sort_keys=True)
        stream.write("\n")


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", help="model directory; weights go to MODEL_DIR/1/weights.json")
    parser.add_argument("--samples", help="write the held-out images and labels (JSON) to this file")
    parser.add_argument("--min-accuracy", type=float, default=0.9, help="refuse weights below this held-out accuracy")
    return parser.parse_args(argv)


def main(argv=None):
    arguments = parse_arguments(argv)
    train_images, test_images, train_labels, test_labels = split_digits()
    mean, scale = standardisation(train_images)
    classifier = train(train_images, train_labels, mean, scale)
    held_out_accuracy = accuracy(classifier, test_images, test_labels, mean, scale)
    print(f"held-out accuracy {held_out_accuracy:.4f} on {len(test_labels)} images")
    if held_out_accuracy < arguments.min_accuracy:
        sys.exit(f"accuracy {held_out_accuracy:.4f} is below {arguments.min_accuracy}: weights not written")
    write_json(
        os.path.join(arguments.model_dir, "1", "weights.json"),
        weights_document(classifier, mean, scale, held_out_accuracy),
    )
    if arguments.samples:
        write_json(arguments.samples, samples_document(test_images, test_labels))


if __name__ == "__main__":
    main()
