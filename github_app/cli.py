"""The `mlops-mentor` command; each subcommand imports only what it needs (`check` starts fast)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One line, as a script or a student expects, instead of argparse's usage block.
        print(f"mlops-mentor: error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(2)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; a subcommand's heavier arguments load only when it is the one run."""
    from checks.cli import add_check_arguments

    parser = _Parser(
        prog="mlops-mentor",
        description="Feedback on MLOps course projects: locally, or as a GitHub App.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    add_check_arguments(
        commands.add_parser("check", help="check a repository folder and print the result")
    )
    commands.add_parser(
        "serve",
        help="run the GitHub App's web server (gunicorn; honours GUNICORN_CMD_ARGS)",
        add_help=False,
    )
    review = commands.add_parser(
        "review",
        help="ask the AI judges about a repository folder (needs LLM_BASE_URL and LLM_MODEL)",
    )
    if command == "review":
        from github_app.review.cli import add_review_arguments

        add_review_arguments(review)
    worker = commands.add_parser(
        "worker",
        help="run job consumers only, for scale-out (same environment as serve; REDIS_URL "
        "to share the queue between machines)",
    )
    purge = commands.add_parser(
        "purge", help="delete stored history older than the retention period (default 365 days)"
    )
    if command in ("worker", "purge"):
        from github_app.operations import add_purge_arguments, add_worker_arguments

        add_worker_arguments(worker)
        add_purge_arguments(purge)
    scan = commands.add_parser(
        "scan",
        help="evaluate the default branch of every repository of an installation now "
        "(queued for serve's consumer or `mlops-mentor worker`)",
    )
    if command == "scan":
        from github_app.scan import add_scan_arguments

        add_scan_arguments(scan)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "serve":
        from github_app.serve import serve

        return serve(argv[1:])
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    if args.command == "review":
        from github_app.review.cli import run_review

        return run_review(args)
    if args.command == "worker":
        from github_app.operations import run_worker

        return run_worker(args)
    if args.command == "purge":
        from github_app.operations import run_purge

        return run_purge(args)
    if args.command == "scan":
        from github_app.scan import run_scan

        return run_scan(args)
    from checks.cli import run_check

    return run_check(args)


if __name__ == "__main__":
    raise SystemExit(main())
