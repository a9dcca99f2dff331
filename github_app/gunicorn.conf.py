"""Gunicorn settings for the GitHub App, used by `mlops-mentor serve` and the container.

`GUNICORN_CMD_ARGS` (e.g. `--bind 0.0.0.0:9000`) and command-line options override them.
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import Any

from github_app.metrics import use_multiprocess_dir
from github_app.settings import ENV

wsgi_app = "github_app:create_app()"
bind = [f"0.0.0.0:{os.environ.get('PORT', '8000')}"]
# Jobs wait in the durable queue (SQLite file or Redis), shared by every process, so more
# workers (`--workers 4`) are safe: each answers webhooks with its threads and, unless
# MLOPS_MENTOR_EMBEDDED_CONSUMER=false, the master starts one consumer process per worker
# (see `when_ready`).
workers = 1
worker_class = "gthread"
threads = 8
timeout = 30
# On shutdown, jobs already running get this long to complete their check runs (a job
# cut short is resumed by the next consumer: see github_app.consumer).
graceful_timeout = 90
# Metrics of every worker process are added up at scrape time (see github_app.metrics):
# chosen here, in the master, before any worker imports prometheus-client.
use_multiprocess_dir(Path(os.environ.get(ENV["data_dir"], "").strip() or "data"))
accesslog = "-"
# Each access line: who, what, status, size, and time taken in microseconds. The path
# without its query string: the dashboard's sign-in callback carries GitHub's one-time
# `code` and the `state` that binds it to the browser there.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(D)sus'

logconfig_dict: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "WARNING", "handlers": ["error_console"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
        # One JSON line per delivery and per job.
        "mlops_mentor": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
        # httpx logs every URL at INFO, including download links with temporary tokens.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # huey logs every task at INFO; our own "job" line says more.
        "huey": {"level": "WARNING"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "generic",
            "stream": "ext://sys.stdout",
        },
        "error_console": {
            "class": "logging.StreamHandler",
            "formatter": "generic",
            "stream": "ext://sys.stderr",
        },
    },
    "formatters": {
        "generic": {
            "format": "%(asctime)s [%(process)d] [%(levelname)s] %(name)s %(message)s",
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
        }
    },
}


def on_starting(server: Any) -> None:
    """Stop before forking when the configuration is unusable: one line naming the variable."""
    from github_app.serve import configuration_problem

    problem = configuration_problem()
    if problem:
        print(f"mlops-mentor: {problem}", file=sys.stderr)
        raise SystemExit(2)


def when_ready(server: Any) -> None:
    """Start the queue consumers: processes of their own beside the web workers.

    Not threads in the web workers: an evaluation (extraction, parsing, ruff) held the
    GIL and the cores while deliveries waited, up to seconds at the p99. One consumer
    process per web worker keeps the job capacity; each runs at a lower CPU priority, so
    answering GitHub comes first on a small machine.
    """
    from github_app.serve import Consumers
    from github_app.settings import Settings

    if Settings.from_env().embedded_consumer:
        server.mlops_mentor_consumers = Consumers(server.cfg.workers, server.log)


def post_worker_init(worker: Any) -> None:
    """Keep the app's start-up objects out of the garbage collector's full passes.

    A full collection walked the ~130,000 objects of the loaded app (Flask, SQLAlchemy,
    pydantic, githubkit) in ~60 ms, holding the interpreter lock: every delivery the
    worker was answering meanwhile waited for it. Frozen, they are never scanned again;
    what requests create is collected as before."""
    gc.freeze()


def on_exit(server: Any) -> None:
    """Let the consumers' running jobs finish within the graceful timeout."""
    consumers = getattr(server, "mlops_mentor_consumers", None)
    if consumers is not None:
        consumers.stop(timeout=max(1.0, server.cfg.graceful_timeout - 5))
