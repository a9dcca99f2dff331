"""Profiles (what the course expects) and the configuration files that adjust them.

A profile is data shipped in `checks/profiles/`. The course's configuration (`--config`)
may switch criteria off, change severities and thresholds; a group's own
`.github/mlops-mentor.yml` may only exclude paths and ask for exemptions.
"""

from __future__ import annotations

import stat
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from checks.models import Severity
from checks.parsing import Parsed, parse_yaml, yaml_line

PROFILE_DIR = "profiles"
DEFAULT_PROFILE = "dtu-mlops"
REPO_CONFIG_PATH = ".github/mlops-mentor.yml"
# A configuration file this large is not written by hand; refuse it before parsing.
CONFIG_SIZE_CAP = 256 * 1024

M = TypeVar("M", bound=BaseModel)


class ProfileError(Exception):
    """A profile or course configuration that cannot be used, with the reason."""


class Module(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str
    url: str = ""
    week: int | None = None


class CriterionSettings(BaseModel):
    """How a profile or the course's configuration adjusts one criterion."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    severity: Severity | None = None
    thresholds: dict[str, Any] = Field(default_factory=dict)
    week: int | None = None
    exemptable: bool = True
    docs_url: str | None = None
    # Instructor-only results are stored and shown on the dashboard, never in the check run.
    visibility: Literal["students", "instructors"] = "students"

    def over(self, base: CriterionSettings) -> CriterionSettings:
        """These settings applied on top of `base` (thresholds merged key by key)."""
        given = self.model_dump(exclude_unset=True)
        merged = base.model_dump()
        merged.update({k: v for k, v in given.items() if k != "thresholds"})
        merged["thresholds"] = {**base.thresholds, **self.thresholds}
        return CriterionSettings.model_validate(merged)


class ReviewJudge(BaseModel):
    """One judge of the optional AI review: what it reads and its 1–5 rubric, a sentence each."""

    model_config = ConfigDict(extra="forbid")

    title: str
    # Which files it reads first: the group's sources, its tests, or its CI/CD configuration.
    reads: Literal["sources", "tests", "ci"]
    instructions: str
    scale: dict[Literal[1, 2, 3, 4, 5], str] = Field(min_length=5)


class Schedule(BaseModel):
    """The course's calendar: criteria tighten week by week from `start`."""

    model_config = ConfigDict(extra="forbid")

    start: date | None = None
    deadline: datetime | None = None

    @field_validator("deadline")
    @classmethod
    def _aware(cls, deadline: datetime | None) -> datetime | None:
        # A deadline written without a zone is read as UTC rather than the server's zone.
        if deadline is not None and deadline.tzinfo is None:
            return deadline.replace(tzinfo=UTC)
        return deadline

    def week(self, at: datetime) -> int | None:
        """The course week `at` falls in (1 for the first seven days), or None without a start."""
        if self.start is None:
            return None
        return max(1, (at.date() - self.start).days // 7 + 1)

    def is_late(self, at: datetime) -> bool:
        return self.deadline is not None and at > self.deadline


class RepositoryPolicy(BaseModel):
    """What a group's own `.github/mlops-mentor.yml` may do (never more than these two)."""

    model_config = ConfigDict(extra="forbid")

    allow: list[Literal["exclude", "exemptions"]] = Field(
        default_factory=lambda: ["exclude", "exemptions"]
    )


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    title: str = ""
    site: str = ""
    # "all" runs every registered criterion (so adding one needs no profile change).
    select: list[str] | str = "all"
    modules: dict[str, Module] = Field(default_factory=dict)
    criteria: dict[str, CriterionSettings] = Field(default_factory=dict)
    exclude: list[str] = Field(default_factory=list)
    # The optional AI review's judges by id (github_app/review); empty means no AI review.
    review: dict[str, ReviewJudge] = Field(default_factory=dict)
    schedule: Schedule = Field(default_factory=Schedule)
    repository: RepositoryPolicy = Field(default_factory=RepositoryPolicy)

    def selected(self, registered: list[str]) -> list[str]:
        chosen = registered if self.select == "all" else list(self.select)
        return [c for c in chosen if self.criteria.get(c, CriterionSettings()).enabled]

    def settings(self, criterion_id: str) -> CriterionSettings:
        return self.criteria.get(criterion_id, CriterionSettings())


class CourseConfig(BaseModel):
    """The course staff's configuration: one file for the whole course."""

    model_config = ConfigDict(extra="forbid")

    profile: str = DEFAULT_PROFILE
    criteria: dict[str, CriterionSettings] = Field(default_factory=dict)
    exclude: list[str] = Field(default_factory=list)
    start: date | None = None
    deadline: datetime | None = None
    # Branches the app evaluates (globs such as "main" or "feature/*"); empty means all.
    branches: list[str] = Field(default_factory=list)
    repository: RepositoryPolicy = Field(default_factory=RepositoryPolicy)
    # Buttons on the check run that open a pull request with a mechanical fix (the app then
    # needs Contents and Pull requests: write).
    fixes: bool = False
    # One issue per group repository with its checklist and the deadline (needs the app's
    # Issues: write permission); off, the app writes nothing but check runs.
    progress_issue: bool = False

    def apply(self, profile: Profile) -> Profile:
        criteria = dict(profile.criteria)
        for cid, settings in self.criteria.items():
            criteria[cid] = settings.over(criteria.get(cid, CriterionSettings()))
        return profile.model_copy(
            update={
                "criteria": criteria,
                "exclude": [*profile.exclude, *self.exclude],
                "schedule": Schedule(start=self.start, deadline=self.deadline),
                "repository": self.repository,
            }
        )


class Exemption(BaseModel):
    model_config = ConfigDict(extra="forbid")

    criterion: str
    reason: str = Field(min_length=10, description="why this criterion does not apply")


class RepoConfig(BaseModel):
    """A group's `.github/mlops-mentor.yml`: it may exclude paths and request exemptions.

    Switching criteria off or loosening thresholds is the course's decision, so any
    other key is refused.
    """

    model_config = ConfigDict(extra="forbid")

    exclude: list[str] = Field(default_factory=list)
    exemptions: list[Exemption] = Field(default_factory=list)


class ConfigProblem(BaseModel):
    """Why a configuration file was refused, on which line."""

    message: str
    line: int = 1


def validate_yaml_model(model: type[M], text: str) -> tuple[M | None, list[ConfigProblem]]:
    """Parse and validate a YAML configuration, pointing each problem at its line."""
    if len(text) > CONFIG_SIZE_CAP:
        return None, [ConfigProblem(message=f"file is over {CONFIG_SIZE_CAP // 1024} KB")]
    parsed: Parsed = parse_yaml(text)
    if not parsed.ok:
        assert parsed.error is not None
        return None, [ConfigProblem(message=parsed.error.message, line=parsed.error.line)]
    data = {} if parsed.data is None else parsed.data
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "file"
            message = (
                "unknown key (not allowed here)"
                if error["type"] == "extra_forbidden"
                else error["msg"]
            )
            line = yaml_line(parsed.node, tuple(error["loc"]))
            problems.append(ConfigProblem(message=f"{where}: {message}", line=line))
        return None, problems


def _read(path: Path) -> str:
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):
            # Reading a FIFO or a device would block startup forever, or never end.
            raise ProfileError(f"{path}: is not a regular file")
        if status.st_size > CONFIG_SIZE_CAP:
            raise ProfileError(f"{path}: file is over {CONFIG_SIZE_CAP // 1024} KB")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: cannot be read ({exc.__class__.__name__})") from exc


def _validated(model: type[M], text: str, origin: str) -> M:
    value, problems = validate_yaml_model(model, text)
    if value is None:
        first = problems[0]
        raise ProfileError(f"{origin}:{first.line}: {first.message}")
    return value


def builtin_profiles() -> list[str]:
    folder = resources.files("checks") / PROFILE_DIR
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def load_profile(name_or_path: str = DEFAULT_PROFILE) -> Profile:
    """A built-in profile by name, or a profile file by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        return _validated(Profile, _read(path), str(path))
    resource = resources.files("checks") / PROFILE_DIR / f"{name_or_path}.yaml"
    if not resource.is_file():
        known = ", ".join(builtin_profiles())
        raise ProfileError(f"unknown profile {name_or_path!r} (built-in: {known})")
    return _validated(Profile, resource.read_text(encoding="utf-8"), f"profile {name_or_path}")


def load_course_config(path: str | Path) -> CourseConfig:
    return _validated(CourseConfig, _read(Path(path)), str(path))


def course_profile(config: CourseConfig | None = None, profile: str | None = None) -> Profile:
    """The profile in force: the course's configuration applied to its base profile."""
    config = config or CourseConfig()
    return config.apply(load_profile(profile or config.profile))
