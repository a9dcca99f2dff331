"""`mlops-mentor scan`: evaluate the default-branch head of every repository of an
installation now (at the course's kick-off, or after the course file changed).

It lists the installation's repositories, reads each default branch's head (a few at a
time) and queues one job per repository on the durable queue, where `serve`'s consumer or
`mlops-mentor worker` runs them. A commit evaluated recently is not queued twice (the
queue's usual dedupe). The organisation's `.github` is not evaluated: its course file is
marked stale instead, so the next job reads it again.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from githubkit.exception import GitHubException, RequestFailed

from github_app.jobs import Job, QueueFull
from github_app.store.course import is_config_repository

if TYPE_CHECKING:
    from githubkit import GitHub

    from github_app.services import Services

PAGE = 100
BAR_WIDTH = 30


def add_scan_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--installation",
        type=int,
        required=True,
        help="the installation's id (in the organisation's settings: Installed GitHub Apps → "
        "Configure, the number at the end of the address)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=8,
        help="branch heads read from GitHub at once (default 8)",
    )


@dataclass(frozen=True)
class Target:
    owner: str
    repo: str
    repository_id: int
    default_branch: str

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"


class Progress:
    """A progress bar on a terminal; one plain line per repository otherwise (logs, CI)."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = total
        self.done = 0
        self.stream = stream
        self.tty = stream.isatty()

    def step(self, name: str, outcome: str) -> None:
        self.done += 1
        if self.tty:
            filled = BAR_WIDTH * self.done // max(1, self.total)
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            self.stream.write(f"\r[{bar}] {self.done}/{self.total} repositories")
            if self.done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(f"scan: {self.done}/{self.total} {name}: {outcome}\n")
        self.stream.flush()


def repositories(gh: GitHub, page_size: int = PAGE) -> Iterator[dict[str, Any]]:
    """Every repository the installation can see, page by page."""
    page = 1
    seen = 0
    while True:
        body = gh.rest.apps.list_repos_accessible_to_installation(
            per_page=page_size, page=page
        ).json()
        listed = body.get("repositories") or []
        yield from listed
        seen += len(listed)
        if not listed or seen >= int(body.get("total_count") or 0):
            return
        page += 1


def scan(
    services: Services,
    installation_id: int,
    *,
    concurrency: int = 8,
    stream: TextIO,
    page_size: int = PAGE,
) -> Counter[str]:
    """Queue an evaluation of every repository's default-branch head; outcomes counted."""
    from github_app.client import GitHubApp

    gh = GitHubApp(services.settings).installation(installation_id)
    outcomes: Counter[str] = Counter()
    with gh:
        targets = []
        for repo in repositories(gh, page_size):
            full_name = str(repo.get("full_name", ""))
            if is_config_repository(full_name):
                services.records.invalidate_course_file(installation_id)
                continue
            if repo.get("archived") or not repo.get("default_branch"):
                outcomes["skipped"] += 1
                continue
            targets.append(
                Target(
                    owner=repo["owner"]["login"],
                    repo=repo["name"],
                    repository_id=int(repo["id"]),
                    default_branch=str(repo["default_branch"]),
                )
            )
        progress = Progress(len(targets), stream)
        run = uuid.uuid4().hex[:12]

        def one(target: Target) -> tuple[Target, str]:
            return target, _queue(services, gh, installation_id, target, run)

        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            for target, outcome in pool.map(one, targets):
                outcomes[outcome] += 1
                progress.step(target.full_name, outcome)
    return outcomes


def _queue(services: Services, gh: GitHub, installation_id: int, target: Target, run: str) -> str:
    try:
        head = gh.rest.repos.get_branch(target.owner, target.repo, target.default_branch)
    except RequestFailed as exc:
        # 404: an empty repository (no commit on its default branch yet).
        return "empty" if exc.response.status_code == 404 else "failed"
    except GitHubException:
        return "failed"
    job = Job(
        installation=installation_id,
        owner=target.owner,
        repo=target.repo,
        sha=head.json()["commit"]["sha"],
        delivery_id=f"scan-{run}-{target.repository_id}",
        repository_id=target.repository_id,
        branch=target.default_branch,
        default_branch=target.default_branch,
    )
    try:
        return "queued" if services.queue.submit(job) else "already evaluated"
    except QueueFull:
        return "failed"


def run_scan(args: argparse.Namespace) -> int:
    """The `scan` subcommand: jobs go to the queue the app's consumers read."""
    from github_app.operations import command_settings
    from github_app.services import build_services
    from github_app.settings import SettingsError

    settings = command_settings()
    try:
        services = build_services(settings)
    except SettingsError as exc:
        print(f"mlops-mentor: {exc}", file=sys.stderr)
        return 2
    try:
        outcomes = scan(
            services, args.installation, concurrency=args.concurrency, stream=sys.stderr
        )
    except GitHubException as exc:
        from github_app.worker import describe_failure

        print(f"mlops-mentor: scan failed: {describe_failure(exc)}", file=sys.stderr)
        return 1
    finally:
        services.close()
    counted = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))
    print(f"Installation {args.installation}: {counted or 'no repositories'}.")
    return 1 if outcomes["failed"] else 0
