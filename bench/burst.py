"""GitHub's side of a deadline burst: signed deliveries from concurrent senders, timed.

In processes of their own, as GitHub's senders are machines of their own: in the
benchmark's process the senders shared one interpreter lock with the fake GitHub serving
the jobs, and 64 threads in any one process spent 2 s of CPU on 300 requests (16 threads:
0.7 s), timing their own contention rather than the server. So `burst` starts one process
per `PER_PROCESS` senders, each sending its share once all are ready.

Two kinds of burst. Without a rate, each sender sends its next delivery as soon as its last
is answered: the server's capacity, with every sender always waiting (at 64 senders the
mean answer is then 64 ÷ the rate, whatever the server does). With a rate, deliveries
arrive as a deadline's pushes do, at random moments (Poisson) averaging that rate, each
sent by a free sender; every answer is timed from the moment its delivery was due, so a
delivery waiting for a free sender counts that wait too.

    python bench/burst.py URL SHARE.json SENDERS   # one sender process (see `burst`)
"""

from __future__ import annotations

import itertools
import json
import random
import resource
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PER_PROCESS = 16


# Time for every sender process to read the start it is given before it comes.
START_MARGIN_S = 0.2


def arrivals(count: int, rate: float, seed: int = 0) -> list[float]:
    """`count` moments (seconds from the start) of independent arrivals averaging `rate`
    a second: exponential gaps, scaled so that the average is exactly `rate`."""
    rng = random.Random(seed)
    gaps = [rng.expovariate(rate) for _ in range(count)]
    scale = (count / rate) / sum(gaps)
    return [0.0, *itertools.accumulate(gap * scale for gap in gaps[:-1])]


def burst(
    url: str,
    deliveries: list[dict[str, Any]],
    senders: int,
    work: Path,
    rate: float | None = None,
) -> dict[str, Any]:
    """Send `deliveries` ({"headers", "body"} each) from `senders` concurrent senders, as
    fast as they are answered, or arriving at `rate` a second (see the module).

    Returns every latency, the count of each status, the burst's wall time, and the CPU
    seconds the senders spent meanwhile (on this machine, taken from the server's share)."""
    processes = -(-senders // PER_PROCESS)
    due = arrivals(len(deliveries), rate) if rate else None
    children = []
    for n in range(processes):
        share = work / f"deliveries-{n}.json"
        mine = {"deliveries": deliveries[n::processes], "due": due[n::processes] if due else None}
        share.write_text(json.dumps(mine))
        threads = senders // processes + (n < senders % processes)
        children.append(
            subprocess.Popen(
                [sys.executable, __file__, url, str(share), str(threads)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )
        )  # fmt: skip
    for child in children:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
    start = time.time() + START_MARGIN_S
    for child in children:
        assert child.stdin is not None
        child.stdin.write(f"{start}\n")
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
        "sender_cpu": sum(a["cpu"] for a in answers),
    }


class Connection:
    """One sender's keep-alive HTTP/1.1 connection, as lean as a socket allows: the
    request's bytes are built before the burst and the answer is read only as far as its
    status and length. httpx spent 5 ms of CPU per delivery here (a third of the machine
    at 64 senders), which the server under test then lacked; GitHub's senders do not
    share its cores."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.address = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.path = parts.path or "/"
        self.host = parts.netloc
        self.socket: socket.socket | None = None
        self.buffer = b""

    def request(self, headers: dict[str, str], body: bytes) -> bytes:
        lines = [f"POST {self.path} HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def post(self, request: bytes) -> int:
        """Send a prepared request; its status code once the whole answer is read."""
        if self.socket is None:
            self.socket = socket.create_connection(self.address, timeout=30)
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buffer = b""
        self.socket.sendall(request)
        while b"\r\n\r\n" not in self.buffer:
            self._receive()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status_line, *fields = head.decode("latin-1").split("\r\n")
        header = {k.strip().lower(): v.strip() for k, _, v in (f.partition(":") for f in fields)}
        length = int(header.get("content-length", "0"))
        while len(self.buffer) < length:
            self._receive()
        self.buffer = self.buffer[length:]
        if header.get("connection", "").lower() == "close":
            self.socket.close()
            self.socket = None
        return int(status_line.split()[1])

    def _receive(self) -> None:
        assert self.socket is not None
        chunk = self.socket.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection mid-answer")
        self.buffer += chunk


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def send_share(
    url: str, deliveries: list[dict[str, Any]], due: list[float] | None, senders: int
) -> dict[str, Any]:
    """Send this process's share from `senders` threads, each taking the next delivery
    once free: at once, or at its `due` moment (seconds from the start)."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    prepare = Connection(url).request
    requests = [prepare(d["headers"], d["body"].encode()) for d in deliveries]
    taken = itertools.count()  # `next` on it is atomic: each delivery is sent once

    def sender(start: float) -> None:
        connection = Connection(url)
        while (i := next(taken)) < len(requests):
            if due is None:
                timed_from = time.perf_counter()
            else:
                timed_from = start + due[i]
                time.sleep(max(0.0, timed_from - time.perf_counter()))
            status = connection.post(requests[i])
            elapsed = time.perf_counter() - timed_from
            with lock:
                latencies.append(elapsed)
                statuses[status] += 1

    print("ready", flush=True)
    start_at = float(sys.stdin.readline())
    time.sleep(max(0.0, start_at - time.time()))
    started, cpu_before, start = time.time(), cpu_seconds(), time.perf_counter()
    threads = [threading.Thread(target=sender, args=(start,)) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "latencies": latencies,
        "statuses": statuses,
        "started": started,
        "ended": time.time(),
        "cpu": cpu_seconds() - cpu_before,
    }


if __name__ == "__main__":
    url, path, senders = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    share = json.loads(path.read_text())
    print(json.dumps(send_share(url, share["deliveries"], share["due"], senders)))
