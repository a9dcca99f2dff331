"""`mlops-mentor worker` (queue consumers alone, for scale-out) and `mlops-mentor purge`
(the retention period, applied now)."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

from github_app.logs import LOGGER

if TYPE_CHECKING:
    from github_app.settings import Settings

LOG_FORMAT = "%(asctime)s [%(process)d] [%(levelname)s] %(name)s %(message)s"


def add_worker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=int,
        help="jobs run at once by this process (default: MLOPS_MENTOR_WORKERS, else 2)",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        help="serve Prometheus metrics on this port (for a worker on a machine without "
        "`serve`; on the same machine, serve's /metrics already includes it)",
    )


def add_purge_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--days",
        type=float,
        help="delete what is older than this (default: MLOPS_MENTOR_RETENTION_DAYS, else 365)",
    )


def _settings(**overrides: object) -> Settings:
    """The environment's settings with the command's options over them, or exit 2."""
    from pydantic import ValidationError

    from github_app.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
        given = {k: v for k, v in overrides.items() if v is not None}
        return Settings(**{**dict(settings), **given}) if given else settings
    except SettingsError as exc:
        problem = str(exc)
    except ValidationError as exc:
        error = exc.errors()[0]
        problem = f"--{str(error['loc'][0]).replace('_', '-')}: {error['msg']}"
    print(f"mlops-mentor: {problem}", file=sys.stderr)
    raise SystemExit(2)


def run_worker(args: argparse.Namespace) -> int:
    """Consume the queue until SIGTERM/SIGINT; running jobs finish first."""
    from github_app.metrics import use_multiprocess_dir
    from github_app.settings import SettingsError

    settings = _settings(workers=args.workers)
    # Before anything imports prometheus-client: this process's metrics join the others'.
    use_multiprocess_dir(settings.data_dir)
    logging.basicConfig(level=logging.WARNING, format=LOG_FORMAT, stream=sys.stderr)
    logging.getLogger(LOGGER).setLevel(logging.INFO)

    from github_app.consumer import JobConsumer
    from github_app.services import build_services, load_course_profile, load_review_settings

    try:
        load_course_profile(settings)
        services = build_services(settings, review=load_review_settings())
    except SettingsError as exc:
        print(f"mlops-mentor: {exc}", file=sys.stderr)
        return 2
    if args.metrics_port:
        from prometheus_client import start_http_server

        from github_app.metrics import exposition_registry

        start_http_server(args.metrics_port, registry=exposition_registry(services.queue.depth))
    logging.getLogger(LOGGER).info(
        "worker: %d job threads on %s", settings.workers, type(services.queue.huey).__name__
    )
    JobConsumer(services, embedded=False).run()
    services.close()
    return 0


def run_purge(args: argparse.Namespace) -> int:
    """Delete evaluations, pushed commits and deliveries older than the retention period."""
    from github_app.store import Store, StoreError

    settings = _settings(retention_days=args.days)
    try:
        store = Store(settings.store_url())
        store.migrate()
        purged = store.purge_older_than(settings.retention_days)
    except (StoreError, ValueError) as exc:
        print(f"mlops-mentor: {exc}", file=sys.stderr)
        return 2
    store.close()
    print(
        f"Deleted what is older than {settings.retention_days:g} days: "
        f"{purged.evaluations} evaluations, {purged.commits} pushed commits, "
        f"{purged.deliveries} deliveries, {purged.installations} removed installations."
    )
    return 0
