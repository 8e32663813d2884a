"""Inference latency and throughput of the lab's Triton (digits model), over HTTP and gRPC, and model load time.

Runs against a nano of a running lab (`make lab`: nano-1 is 10.77.0.21; a Molecule lab uses its own
subnet) and writes the "triton inference" section of docs/benchmarks.md. From the repository root:

    .venv/bin/python tests/bench/bench_triton.py [--host 10.77.0.21] [--requests 500] [--seconds 10]

HTTP goes through the collection's own client (plugins/module_utils/triton.py, standard library,
one connection per request, JSON tensors, as the modules and EdgeFaaS function B use it); gRPC through
tritonclient.grpc (one channel). The model is unloaded and loaded again to time loads, and is left
loaded.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO / ".cache" / "collections"))

from report import write_section  # noqa: E402

from ansible_collections.edgefaas.platform.plugins.module_utils.triton import TritonClient  # noqa: E402

MODEL = "digits"
SAMPLES = Path.home() / ".cache" / "edgefaas" / "lab-artifacts" / "models" / "digits-samples.json"


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def latency_ms(call, requests):
    call()  # warm-up: first request after a load is slower
    times = []
    for _request in range(requests):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), percentile(times, 0.99)


def throughput(make_call, seconds, workers):
    """Requests per second with `workers` threads, each with its own client."""
    counts = [0] * workers
    stop = time.monotonic() + seconds

    def work(index):
        call = make_call()
        while time.monotonic() < stop:
            call()
            counts[index] += 1

    threads = [threading.Thread(target=work, args=(index,)) for index in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / seconds


def http_call(url, images):
    client = TritonClient(url, timeout=30)
    flat = [float(value) for image in images for row in image for value in row]
    tensor = {"IMAGE": ([len(images), 8, 8], flat)}
    return lambda: client.infer(MODEL, tensor, output_names=["LABEL"])


def grpc_call(url, images):
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(url=url)
    batch = np.asarray(images, dtype=np.float32)
    tensor = grpcclient.InferInput("IMAGE", list(batch.shape), "FP32")
    tensor.set_data_from_numpy(batch)
    outputs = [grpcclient.InferRequestedOutput("LABEL")]
    return lambda: client.infer(MODEL, [tensor], outputs=outputs)


def load_seconds(client, rounds):
    times = []
    for _round in range(rounds):
        client.unload_model(MODEL)
        client.settled_entries(MODEL)
        start = time.perf_counter()
        client.load_model(MODEL)
        client.settled_entries(MODEL)
        times.append(time.perf_counter() - start)
        if not client.is_model_ready(MODEL):
            sys.exit(f"{MODEL} is not READY after a load")
    return statistics.median(times), max(times)


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="10.77.0.21", help="address of a nano's Triton (default: nano-1 of make lab)")
    parser.add_argument("--http-port", type=int, default=8000)
    parser.add_argument("--grpc-port", type=int, default=8001)
    parser.add_argument("--requests", type=int, default=500, help="sequential requests per latency figure")
    parser.add_argument("--seconds", type=float, default=10, help="duration of each throughput run")
    parser.add_argument("--workers", type=int, default=4, help="concurrent clients in throughput runs")
    parser.add_argument("--loads", type=int, default=5, help="unload/load rounds timed")
    parser.add_argument("--no-write", action="store_true", help="print only, leave docs/benchmarks.md alone")
    return parser.parse_args(argv)


def main(argv=None):
    arguments = parse_arguments(argv)
    http_url = f"{arguments.host}:{arguments.http_port}"
    grpc_url = f"{arguments.host}:{arguments.grpc_port}"
    samples = json.loads(SAMPLES.read_text())
    single = [samples[0]["image"]]
    batch = [sample["image"] for sample in samples[:64]]
    client = TritonClient(http_url, timeout=120)
    if not client.is_model_ready(MODEL):
        sys.exit(f"{MODEL} is not READY on {http_url}: run `make lab` (or a Molecule converge) first")
    server = client.server_metadata()
    load_before = os.getloadavg()[0]

    rows = [
        "| protocol | request | p50 latency | p99 latency | throughput (sequential) | "
        f"throughput ({arguments.workers} clients) |",
        "|---|---|---|---|---|---|",
    ]
    calls = {"HTTP": partial(http_call, http_url), "gRPC": partial(grpc_call, grpc_url)}
    for protocol, call in calls.items():
        for label, images in (("1 image", single), ("batch of 64", batch)):
            make = partial(call, images)
            p50, p99 = latency_ms(make(), arguments.requests)
            sequential = 1000 / p50
            parallel = throughput(make, arguments.seconds, arguments.workers)
            per = len(images)
            rows.append(
                f"| {protocol} | {label} | {p50:.2f} ms | {p99:.2f} ms | {sequential:.0f} req/s ({sequential * per:.0f} img/s) "
                f"| {parallel:.0f} req/s ({parallel * per:.0f} img/s) |"
            )
    load_median, load_max = load_seconds(client, arguments.loads)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        f"Command: `{' '.join(['.venv/bin/python tests/bench/bench_triton.py', *(argv or sys.argv[1:])])}` ({when}, {platform.node()}, "
        f"{platform.machine()}); Triton {server['version']} in a lab nano container (CPU, Python backend), "
        f"model `{MODEL}`; client on the lab host. {arguments.requests} sequential requests per latency figure, "
        f"{arguments.seconds:.0f} s per throughput figure. Load average of the lab host at the start: {load_before:.1f}.",
        "",
        *rows,
        "",
        f"Model load (unload, then load until READY), {arguments.loads} rounds: median {load_median:.2f} s, "
        f"max {load_max:.2f} s.",
        "",
        "HTTP goes through the collection's standard-library client (a new connection per request, JSON tensors);",
        "gRPC through tritonclient.grpc on one channel (binary tensors). Both ask for the LABEL output only.",
    ]
    if not arguments.no_write:
        write_section("triton inference", body)
    print("\n".join(body))


if __name__ == "__main__":
    main()
