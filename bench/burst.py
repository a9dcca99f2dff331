"""GitHub's side of a deadline burst: signed deliveries from concurrent senders, timed.

In processes of their own, as GitHub's senders are machines of their own: in the
benchmark's process the senders shared one interpreter lock with the fake GitHub serving
the jobs, and 64 threads in any one process spent 2 s of CPU on 300 requests (16 threads:
0.7 s), timing their own contention rather than the server. So `burst` starts one process
per `PER_PROCESS` senders, each sending its share once all are ready.

    python bench/burst.py URL DELIVERIES.json SENDERS   # one sender process (see `burst`)
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

PER_PROCESS = 16


def burst(url: str, deliveries: list[dict[str, Any]], senders: int, work: Path) -> dict[str, Any]:
    """Send `deliveries` ({"headers", "body"} each) from `senders` concurrent senders.

    Returns every latency, the count of each status, and the burst's wall time."""
    processes = -(-senders // PER_PROCESS)
    children = []
    for n in range(processes):
        share = work / f"deliveries-{n}.json"
        share.write_text(json.dumps(deliveries[n::processes]))
        threads = senders // processes + (n < senders % processes)
        children.append(
            subprocess.Popen(
                [sys.executable, __file__, url, str(share), str(threads)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )
        )  # fmt: skip
    for child in children:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.close()
    answers = [json.loads(child.stdout.read()) for child in children if child.stdout]
    for child in children:
        if child.wait() != 0:
            raise RuntimeError(f"a sender process failed ({child.returncode})")
    statuses: Counter[int] = Counter()
    for answer in answers:
        statuses.update({int(status): n for status, n in answer["statuses"].items()})
    return {
        "latencies": [x for answer in answers for x in answer["latencies"]],
        "statuses": dict(statuses),
        "wall": max(a["ended"] for a in answers) - min(a["started"] for a in answers),
    }


def send_share(url: str, deliveries: list[dict[str, Any]], senders: int) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    local = threading.local()

    def send(delivery: dict[str, Any]) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=30)
        started = time.perf_counter()
        response = local.client.post(
            url, content=delivery["body"].encode(), headers=delivery["headers"]
        )
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)
            statuses[response.status_code] += 1

    print("ready", flush=True)
    sys.stdin.readline()
    started = time.time()
    with ThreadPoolExecutor(senders) as pool:
        list(pool.map(send, deliveries))
    return {"latencies": latencies, "statuses": statuses, "started": started, "ended": time.time()}


if __name__ == "__main__":
    url, path, senders = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(send_share(url, json.loads(path.read_text()), senders)))
