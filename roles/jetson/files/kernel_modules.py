"""Where each kernel module named on the command line comes from on the running kernel.

Arguments: a JSON list of module names and a JSON object of their kernel config symbols. Prints JSON: {"release": ..., "modules": {name: source}},
source "" when the module is neither loaded, built in nor loadable. Standard library, Python 3.6+.
"""

import gzip
import json
import os
import sys


def norm(name):
    return name.replace("-", "_")


def read_lines(path, opener=open):
    try:
        with opener(path, "rt") as handle:
            return handle.read().splitlines()
    except OSError:
        return []


def main(names, symbols):
    release = os.uname().release
    base = "/lib/modules/" + release
    loaded = {norm(line.split()[0]) for line in read_lines("/proc/modules") if line.strip()}
    builtin = {norm(os.path.basename(line.strip()).split(".ko")[0]) for line in read_lines(base + "/modules.builtin")}
    files = set()
    for _root, _dirs, names in os.walk(base):
        files.update(norm(name.split(".ko")[0]) for name in names if ".ko" in name)
    config = {}
    for path, opener in (("/proc/config.gz", gzip.open), ("/boot/config-" + release, open)):
        lines = read_lines(path, opener)
        if lines:
            config = dict(line.split("=", 1) for line in lines if line.startswith("CONFIG_") and "=" in line)
            break
    modules = {}
    for name in names:
        symbol = symbols.get(name, "")
        key = norm(name)
        if key in loaded:
            source = "loaded"
        elif os.path.isdir("/sys/module/" + key):
            source = "built in or loaded (/sys/module)"
        elif key in builtin:
            source = "built in (modules.builtin)"
        elif key in files:
            source = "loadable (" + base + ")"
        elif symbol and config.get(symbol) == "y":
            source = "built in (" + symbol + "=y)"
        else:
            source = ""
        modules[name] = source
    print(json.dumps({"release": release, "modules": modules, "kernel_config": bool(config)}))


if __name__ == "__main__":
    main(json.loads(sys.argv[1]), json.loads(sys.argv[2]) if len(sys.argv) > 2 else {})
