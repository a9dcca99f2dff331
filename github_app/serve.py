"""`mlops-mentor serve`: the GitHub App under gunicorn, configured by `gunicorn.conf.py`.

Options are gunicorn's own (`--bind`, `--threads`, ...), given as arguments or in
`GUNICORN_CMD_ARGS`; `gunicorn -c github_app/gunicorn.conf.py` runs the same server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn.app.base import Application

CONFIG_FILE = str(Path(__file__).with_name("gunicorn.conf.py"))
# Added to the consumers' niceness: web workers get the cores first when both want them.
CONSUMER_NICENESS = 10
# `mlops-mentor worker`, told which process it serves (it stops when that one is gone).
CONSUMER = "import sys; from github_app.serve import consume; sys.exit(consume(int(sys.argv[1])))"
# How often a consumer looks whether the server that started it is still there, and the
# server whether its consumers are.
_WATCH_EVERY = 1.0


def consume(server_pid: int) -> int:
    """`mlops-mentor worker` for the server `server_pid`: stops gracefully (SIGTERM to
    itself) if that process disappears, e.g. killed, like gunicorn's own workers do."""
    from github_app.cli import main

    # Its evaluations and the ruff processes they start inherit this.
    os.nice(CONSUMER_NICENESS)

    def watch() -> None:
        while os.getppid() == server_pid:
            threading.Event().wait(_WATCH_EVERY)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="server-watch", daemon=True).start()
    return main(["worker"])


class Consumers:
    """The queue consumer processes of `serve`, started again if one dies."""

    def __init__(self, count: int, log: Any) -> None:
        self.log = log
        self._stopping = threading.Event()
        self.processes = [self._start() for _ in range(count)]
        threading.Thread(target=self._supervise, name="consumers", daemon=True).start()

    def _start(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-c", CONSUMER, str(os.getpid())])

    def _supervise(self) -> None:
        while not self._stopping.wait(_WATCH_EVERY):
            for i, process in enumerate(self.processes):
                if process.poll() is not None and not self._stopping.is_set():
                    self.log.warning("queue consumer %d exited; starting another", process.pid)
                    self.processes[i] = self._start()

    def stop(self, timeout: float) -> None:
        """SIGTERM: running jobs finish (up to `timeout` s; a job cut short is resumed)."""
        self._stopping.set()
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def configuration_problem() -> str | None:
    """The first problem with the environment's configuration, as one line, or None."""
    from github_app.services import load_course_profile, load_review_settings
    from github_app.settings import Settings, SettingsError

    try:
        load_course_profile(Settings.from_env())
        load_review_settings()
    except SettingsError as exc:
        return str(exc)
    return None


class MentorServer(Application):
    """Gunicorn with our configuration file as the default and the app loaded directly."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        super().__init__(usage="mlops-mentor serve [gunicorn options]", prog="mlops-mentor serve")

    def init(self, parser: Any, opts: Any, args: Any) -> None:
        return None

    def load_config(self) -> None:
        # Gunicorn's own order: the config file, then GUNICORN_CMD_ARGS, then arguments.
        parser = self.cfg.parser()
        args = parser.parse_args(self.argv)
        env_args = parser.parse_args(self.cfg.get_cmd_args_from_env())
        self.load_config_from_file(args.config or env_args.config or CONFIG_FILE)
        for given in (env_args, args):
            for key, value in vars(given).items():
                if value is not None and key != "args":
                    self.cfg.set(key.lower(), value)

    def load(self) -> Flask:
        from github_app.web import create_app

        return create_app()


def serve(argv: list[str]) -> int:
    """Run the web server (and its embedded queue consumer) until it is stopped."""
    problem = configuration_problem()
    if problem:
        print(f"mlops-mentor: {problem}", file=sys.stderr)
        return 2
    try:
        MentorServer(argv).run()
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 1
    return 0
