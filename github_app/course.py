"""The course's configuration as the app applies it: the organisation's course file.

The course staff keep `mlops-mentor.yml` in the organisation's `.github` repository (the
convention GitHub apps use). It is authoritative: the profile, criteria, thresholds,
severities, branches to evaluate, the start date and the deadline. Without one, the
deployment's `MLOPS_MENTOR_CONFIG` (or the defaults) applies. The store keeps the last
valid file per installation, so every process agrees; a push to `.github` marks it stale
and the next job reads it again. An invalid file is refused (its problems are stored for
the dashboard's banner and the check run on `.github`) and the last valid one stays.
"""

from __future__ import annotations

import base64
import binascii
import threading
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from githubkit import GitHub
from githubkit.exception import RequestFailed

from checks import Profile
from checks.parsing import parse_yaml, yaml_line
from checks.profile import (
    CONFIG_SIZE_CAP,
    ConfigProblem,
    CourseConfig,
    ProfileError,
    course_profile,
    validate_yaml_model,
)
from github_app.store.course import CONFIG_REPOSITORY, CourseRecords

ORG_CONFIG_FILE = "mlops-mentor.yml"


@dataclass(frozen=True)
class CourseState:
    """A course configuration in force: the file's settings and the profile they make."""

    config: CourseConfig
    profile: Profile

    def evaluates(self, branch: str | None) -> bool:
        """Whether a push to `branch` is evaluated (no `branches` listed: every branch)."""
        if not self.config.branches or branch is None:
            return True
        return any(fnmatchcase(branch, pattern) for pattern in self.config.branches)


@dataclass(frozen=True)
class CourseFileCheck:
    """A course file read from GitHub: None when there is none, else its problems."""

    found: bool
    problems: list[ConfigProblem] = field(default_factory=list)
    state: CourseState | None = None


def parse_course_file(text: str) -> tuple[CourseState | None, list[ConfigProblem]]:
    """A course file's state in force, or why it cannot be used (each problem on its line)."""
    config, problems = validate_yaml_model(CourseConfig, text)
    if config is None:
        return None, problems
    try:
        return CourseState(config, course_profile(config)), []
    except ProfileError as exc:
        # The only thing validation cannot see: the profile it names does not exist.
        line = yaml_line(parse_yaml(text).node, ("profile",))
        return None, [ConfigProblem(message=f"profile: {exc}", line=line)]


class CourseConfigs:
    """The course state of each installation, read through the store (see the module)."""

    def __init__(self, records: CourseRecords, fallback: CourseState) -> None:
        self.records = records
        self.fallback = fallback
        self._lock = threading.Lock()
        # Parsed states by installation, valid while the stored record is unchanged.
        self._parsed: dict[int, tuple[object, CourseState]] = {}

    def known(self, installation_id: int) -> CourseState:
        """The state the store holds, without asking GitHub (what a webhook handler uses)."""
        row = self.records.course_text(installation_id)
        if row is None or row[0] is None:
            return self.fallback
        text, version = row
        with self._lock:
            cached = self._parsed.get(installation_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        state, _problems = parse_course_file(text)
        # Only valid texts are stored; one refused now (e.g. a profile renamed in a newer
        # version) leaves the deployment's configuration in force.
        state = state or self.fallback
        with self._lock:
            self._parsed[installation_id] = (version, state)
        return state

    def current(self, gh: GitHub, installation_id: int, owner: str) -> CourseState:
        """The state for a job: read from GitHub first when never read or marked stale."""
        row = self.records.course_file(installation_id)
        if row is None or row.stale:
            self.refresh(gh, installation_id, owner)
        return self.known(installation_id)

    def refresh(
        self, gh: GitHub, installation_id: int, owner: str, ref: str | None = None
    ) -> CourseFileCheck:
        """Read the course file (at `ref`, else the default branch) and record it."""
        fetched = fetch_course_file(gh, owner, ref)
        if fetched is None:
            self.records.save_course_file(installation_id, None)
            return CourseFileCheck(found=False)
        if isinstance(fetched, ConfigProblem):
            state, problems = None, [fetched]
        else:
            state, problems = parse_course_file(fetched)
        if state is None or isinstance(fetched, ConfigProblem):
            self.records.refuse_course_file(
                installation_id, [p.model_dump() for p in problems], ref
            )
            return CourseFileCheck(found=True, problems=problems)
        self.records.save_course_file(installation_id, fetched)
        return CourseFileCheck(found=True, state=state)


def fetch_course_file(gh: GitHub, owner: str, ref: str | None = None) -> str | ConfigProblem | None:
    """The text of `{owner}/.github/mlops-mentor.yml`; None when there is none (or the app
    cannot see that repository); a problem when it cannot be read as text."""
    try:
        response = gh.rest.repos.get_content(
            owner, CONFIG_REPOSITORY, ORG_CONFIG_FILE, **({"ref": ref} if ref else {})
        )
    except RequestFailed as exc:
        if exc.response.status_code == 404:
            return None
        raise
    body = response.json()
    if not isinstance(body, dict) or body.get("type") != "file":
        return ConfigProblem(message=f"{ORG_CONFIG_FILE} is not a file")
    if int(body.get("size") or 0) > CONFIG_SIZE_CAP:
        return ConfigProblem(message=f"file is over {CONFIG_SIZE_CAP // 1024} KB")
    try:
        return base64.b64decode(str(body.get("content", ""))).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ConfigProblem(message="file is not UTF-8 text")
