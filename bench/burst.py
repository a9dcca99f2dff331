"""GitHub's side of a deadline burst: signed deliveries from N concurrent senders, timed.

Its own process, as GitHub is: in the benchmark's process the senders' threads shared one
interpreter lock with the fake GitHub serving the jobs, and at 64 senders they measured
their own queueing (3 s of client CPU in 2.2 s) rather than the server's.

    python bench/burst.py URL DELIVERIES.json SENDERS   # prints {"latencies", "statuses", "wall"}

DELIVERIES.json is a list of {"headers": {...}, "body": "..."}.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx


def burst(url: str, deliveries: list[dict[str, object]], senders: int) -> dict[str, object]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    local = threading.local()

    def send(delivery: dict[str, object]) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=30)
        started = time.perf_counter()
        response = local.client.post(
            url, content=str(delivery["body"]).encode(), headers=delivery["headers"]
        )
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)
            statuses[response.status_code] += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(senders) as pool:
        list(pool.map(send, deliveries))
    wall = time.perf_counter() - started
    return {"latencies": latencies, "statuses": dict(statuses), "wall": wall}


if __name__ == "__main__":
    url, path, senders = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(burst(url, json.loads(path.read_text()), senders)))
