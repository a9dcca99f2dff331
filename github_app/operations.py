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


def command_settings(**overrides: object) -> Settings:
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

    settings = command_settings(workers=args.workers)
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
    """Delete evaluations, pushed commits and deliveries older than the retention period.

    Needs only the store's settings (DATABASE_URL or MLOPS_MENTOR_DATA_DIR, and
    MLOPS_MENTOR_RETENTION_DAYS), not the app's credentials: a cron job can run it.
    """
    import os
    from pathlib import Path

    from github_app.settings import ENV
    from github_app.store import DEFAULT_RETENTION_DAYS, Store, StoreError, database_url

    given = os.environ.get(ENV["retention_days"], "").strip()
    try:
        days = args.days if args.days is not None else float(given or DEFAULT_RETENTION_DAYS)
    except ValueError:
        days = -1
    if not days > 0:
        name = "--days" if args.days is not None else ENV["retention_days"]
        print(f"mlops-mentor: {name}: must be a number of days above 0", file=sys.stderr)
        return 2
    data_dir = Path(os.environ.get(ENV["data_dir"], "").strip() or "data")
    try:
        store = Store(database_url(data_dir, os.environ.get(ENV["database_url"])))
        store.migrate()
        purged = store.purge_older_than(days)
    except StoreError as exc:
        print(f"mlops-mentor: {ENV['database_url']}: {exc}", file=sys.stderr)
        return 2
    store.close()
    print(
        f"Deleted what is older than {days:g} days: {purged.evaluations} evaluations, "
        f"{purged.commits} pushed commits, {purged.deliveries} deliveries, "
        f"{purged.installations} removed installations."
    )
    return 0
