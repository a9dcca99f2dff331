"""Gunicorn settings for the GitHub App, used by `mlops-mentor serve` and the container.

`GUNICORN_CMD_ARGS` (e.g. `--bind 0.0.0.0:9000`) and command-line options override them.
"""

from __future__ import annotations

import os
import sys
from typing import Any

wsgi_app = "github_app:create_app()"
bind = [f"0.0.0.0:{os.environ.get('PORT', '8000')}"]
# One process: the in-process job queue and its deduplication of commits live in it.
# Threads answer deliveries concurrently while jobs run in the queue's own threads.
workers = 1
worker_class = "gthread"
threads = 8
timeout = 30
# On shutdown, jobs already running get this long to complete their check runs.
graceful_timeout = 90
accesslog = "-"
# Each access line: who, what, status, size, and time taken in microseconds.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(D)sus'

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
