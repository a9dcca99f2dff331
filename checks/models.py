"""The engine's boundary: what every other part of mlops-mentor reads and writes."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator


class Level(StrEnum):
    """Annotation levels, exactly as GitHub's check-run API names them."""

    notice = "notice"
    warning = "warning"
    failure = "failure"


class Status(StrEnum):
    passed = "pass"
    warn = "warn"
    fail = "fail"
    info = "info"
    skip = "skip"
    error = "error"


class Conclusion(StrEnum):
    success = "success"
    neutral = "neutral"
    failure = "failure"


class Severity(StrEnum):
    """How much a criterion counts: a failing `required` one fails the whole check run."""

    required = "required"
    recommended = "recommended"
    info = "info"


# GitHub refuses annotation titles over 255 characters and messages over 64 KB.
TITLE_LIMIT = 255
MESSAGE_LIMIT = 64 * 1024 - 1


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Annotation(BaseModel):
    """A message on lines of a file, shaped as GitHub's check-run annotation."""

    path: str
    start_line: int = Field(default=1, ge=1)
    end_line: int = Field(default=1, ge=1)
    level: Level = Level.warning
    title: str = ""
    message: str
    # Lower ranks are posted first when GitHub's annotation cap forces a choice.
    rank: int = 100

    @field_validator("path")
    @classmethod
    def _relative_posix(cls, path: str) -> str:
        path = path.replace("\\", "/").lstrip("/")
        while path.startswith("./"):
            path = path[2:]
        if not path or ".." in path.split("/"):
            raise ValueError(f"annotation path must be relative inside the repository: {path!r}")
        return path

    @field_validator("title")
    @classmethod
    def _short_title(cls, title: str) -> str:
        return clip(title, TITLE_LIMIT)

    @field_validator("message")
    @classmethod
    def _bounded_message(cls, message: str) -> str:
        return clip(message, MESSAGE_LIMIT)

    @model_validator(mode="after")
    def _ordered_lines(self) -> Annotation:
        if self.end_line < self.start_line:
            self.end_line = self.start_line
        return self


class CriterionResult(BaseModel):
    """One criterion's verdict on one commit: what was found, where, and how to fix it."""

    id: str
    title: str
    module: str
    # Filled from the profile so that a stored report renders without it.
    module_title: str = ""
    week: int | None = None
    status: Status
    summary: str
    # What the criterion checks and why (its docstring): the same for every repository.
    description: str = ""
    details: str = ""
    fix: str = ""
    metrics: dict[str, Any] = Field(default_factory=dict)
    annotations: list[Annotation] = Field(default_factory=list)
    docs_url: str = ""
    severity: Severity = Severity.recommended
    # "requested" by the group and waiting for an instructor, or "approved" (then exempt).
    exemption: Literal["", "requested", "approved"] = ""
    exempt_reason: str = ""
    visibility: Literal["students", "instructors"] = "students"


class Report(BaseModel):
    profile: str
    results: list[CriterionResult]
    passed: int
    total: int
    conclusion: Conclusion
    duration_ms: float
    # The course week the commit was evaluated in, and whether it came after the deadline.
    course_week: int | None = None
    late: bool = False

    @classmethod
    def of(
        cls,
        profile: str,
        results: list[CriterionResult],
        *,
        duration_ms: float,
        course_week: int | None = None,
        late: bool = False,
    ) -> Report:
        """A report over `results`, scored: exemptions, facts and the config check don't count."""
        scored = [
            r
            for r in results
            if r.severity != Severity.info
            and r.status != Status.info
            and r.exemption != "approved"
            and r.id != "config"
        ]
        if any(r.status == Status.fail for r in results):
            conclusion = Conclusion.failure
        elif all(r.status == Status.passed for r in scored):
            conclusion = Conclusion.success
        else:
            conclusion = Conclusion.neutral
        return cls(
            profile=profile,
            results=results,
            passed=sum(r.status == Status.passed for r in scored),
            total=len(scored),
            conclusion=conclusion,
            duration_ms=duration_ms,
            course_week=course_week,
            late=late,
        )

    def for_students(self) -> Report:
        """The report without instructor-only criteria: what a check run may show."""
        if all(r.visibility == "students" for r in self.results):
            return self
        return Report.of(
            self.profile,
            [r for r in self.results if r.visibility == "students"],
            duration_ms=self.duration_ms,
            course_week=self.course_week,
            late=self.late,
        )

    def result(self, criterion_id: str) -> CriterionResult:
        for result in self.results:
            if result.id == criterion_id:
                return result
        raise KeyError(criterion_id)

    def annotations(self) -> list[Annotation]:
        """Every annotation, most useful first: failures, then by each criterion's rank."""
        order = {Level.failure: 0, Level.warning: 1, Level.notice: 2}
        found = [a for r in self.results for a in r.annotations]
        return sorted(found, key=lambda a: (order[a.level], a.rank, a.path, a.start_line))
