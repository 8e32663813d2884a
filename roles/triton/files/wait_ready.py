# Waits until Triton answers GET /v2/health/ready; run on the node by the triton role.
# Arguments: URL, seconds to wait (0: ask once), systemd unit. Prints a JSON report; exit 0 when
# ready, 1 otherwise, with Triton's error lines (or its last lines) from the journal.
import json
import subprocess
import sys
import time
import urllib.request

url, seconds, unit = sys.argv[1], float(sys.argv[2]), sys.argv[3]
deadline = time.monotonic() + seconds
last = ""
while True:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            if answer.status == 200:
                print(json.dumps({"ready": True}))
                sys.exit(0)
            last = "HTTP %d" % answer.status
    except Exception as error:  # any failure means: not ready yet
        last = str(error)
    if time.monotonic() >= deadline:
        break
    time.sleep(1)
log = []
if seconds > 0:
    journal = subprocess.run(
        ["journalctl", "--unit", unit, "--lines", "60", "--output", "cat", "--no-pager"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
        check=False,
    ).stdout.splitlines()
    # Triton's own error lines ("E1126 16:28:10.325358 3305 main.cc:257] message"), each distinct
    # message once without its time and thread, most recent last; else the unit's last lines.
    errors = [line.split(" ", 3)[-1] for line in journal if line[:1] == "E" and line[1:5].isdigit()]
    distinct = list(reversed(list(dict.fromkeys(reversed(errors)))))
    log = distinct[-4:] or journal[-10:]
print(json.dumps({"ready": False, "last": last, "log": log}))
sys.exit(1)
