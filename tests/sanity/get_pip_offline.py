"""Offline stand-in for the get-pip.py script that ansible-test downloads to bootstrap pip.

ansible-test fetches get-pip.py from a host this machine cannot reach, and looks for a cached copy
first (~/.ansible/test/cache/get_pip_<version>.py). This stand-in is put there by run.sh: it takes
pip from the interpreter's own ensurepip (no network), then installs the pinned pip that
ansible-test asked for from the package index, like get-pip.py does.
"""

import subprocess
import sys

# get-pip.py's own switches; pip install does not know them.
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}

subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install", *[a for a in sys.argv[1:] if a not in GET_PIP_ONLY]])
