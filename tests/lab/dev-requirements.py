"""Prints the pinned development requirements from pyproject.toml (one per line) for pip -r."""

import sys
from pathlib import Path

import tomllib

pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
sys.stdout.write("\n".join(pyproject["project"]["optional-dependencies"]["dev"]) + "\n")
