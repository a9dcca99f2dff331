"""`mlops-mentor serve`: the GitHub App under gunicorn, configured by `gunicorn.conf.py`.

Options are gunicorn's own (`--bind`, `--threads`, ...), given as arguments or in
`GUNICORN_CMD_ARGS`; `gunicorn -c github_app/gunicorn.conf.py` runs the same server.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn.app.base import Application

CONFIG_FILE = str(Path(__file__).with_name("gunicorn.conf.py"))


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
