"""Criteria are small declared units, registered by id.

A criterion is a function of the `Snapshot` (and a `Context` for its thresholds and the
other criteria's results) returning an `Outcome`. Its docstring is the description a
student reads; the profile decides whether it runs and how much it counts.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from checks.models import Annotation, CriterionResult, Severity

if TYPE_CHECKING:
    from checks.snapshot import Snapshot


@dataclass
class Outcome:
    """What a criterion found.

    `status` is "pass", "fail" (not met: the profile's severity decides how bad that is)
    or "info" (nothing to judge, just facts).
    """

    status: Literal["pass", "fail", "info"]
    summary: str
    details: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    annotations: list[Annotation] = field(default_factory=list)


def passed(summary: str, **kwargs: Any) -> Outcome:
    return Outcome("pass", summary, **kwargs)


def failed(summary: str, **kwargs: Any) -> Outcome:
    return Outcome("fail", summary, **kwargs)


def info(summary: str, **kwargs: Any) -> Outcome:
    return Outcome("info", summary, **kwargs)


class Context:
    """What a criterion may know besides the snapshot: its thresholds and other results."""

    def __init__(
        self,
        thresholds: Mapping[str, Any],
        result_of: Callable[[str], CriterionResult | None],
    ) -> None:
        self.thresholds = thresholds
        self._result_of = result_of

    def result(self, criterion_id: str) -> CriterionResult | None:
        """Another criterion's result in this evaluation (None when it is not in the profile)."""
        return self._result_of(criterion_id)


Check = Callable[["Snapshot", Context], Outcome]
# Starts slow work a criterion will need (a subprocess, say) before any criterion runs, so
# that it proceeds on another core while the others work. It only starts: what it
# starts is collected, and any failure reported, by the criterion itself.
Prefetch = Callable[["Snapshot"], None]


@dataclass(frozen=True)
class Criterion:
    id: str
    title: str
    module: str
    fix: str
    check: Check
    requires: tuple[str, ...] = ()
    severity: Severity = Severity.recommended
    thresholds: Mapping[str, Any] = field(default_factory=dict)
    docs_url: str = ""
    # Lower ranks put this criterion's annotations first when the app must cap them.
    rank: int = 50
    prefetch: Prefetch | None = None

    @property
    def description(self) -> str:
        return inspect.cleandoc(self.check.__doc__ or "")


REGISTRY: dict[str, Criterion] = {}


def criterion(
    id: str,
    *,
    title: str,
    module: str,
    fix: str,
    requires: tuple[str, ...] = (),
    severity: Severity = Severity.recommended,
    thresholds: Mapping[str, Any] | None = None,
    docs_url: str = "",
    rank: int = 50,
    prefetch: Prefetch | None = None,
) -> Callable[[Check], Check]:
    """Register a criterion under a stable id (its docstring is its user-facing description).

    `prefetch`, if given, is called with the snapshot the criterion will see before any
    criterion runs, and the criterion itself is then run after those without one.
    """

    def register(check: Check) -> Check:
        if id in REGISTRY:
            raise ValueError(f"criterion {id!r} is registered twice")
        if not (check.__doc__ or "").strip():
            raise ValueError(f"criterion {id!r} needs a docstring: it is what students read")
        REGISTRY[id] = Criterion(
            id=id,
            title=title,
            module=module,
            fix=inspect.cleandoc(fix),
            check=check,
            requires=requires,
            severity=severity,
            thresholds=dict(thresholds or {}),
            docs_url=docs_url,
            rank=rank,
            prefetch=prefetch,
        )
        return check

    return register


def all_criteria() -> dict[str, Criterion]:
    """Every registered criterion (importing the catalog registers them)."""
    import checks.criteria  # noqa: F401 - registers the catalog

    return REGISTRY
