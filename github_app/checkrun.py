"""What we send to GitHub's check-run API, validated by our own models before it leaves.

githubkit checks the number of annotations, but not an annotation title over 255
characters, a message over 64 KB, or an `output` without its title, and it silently drops
misspelled keys. GitHub answers those with 422 after the evaluation is done, so these
models refuse them here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from checks.models import TITLE_LIMIT, Annotation, clip

ANNOTATIONS_PER_REQUEST = 50
TEXT_LIMIT = 65_535
MESSAGE_BYTES = 64 * 1024 - 1


def clip_bytes(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-8 bytes, on a character boundary."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", errors="ignore") + "…"


class CheckAnnotation(BaseModel):
    path: str = Field(min_length=1)
    start_line: int = Field(ge=1)
    end_line: int = Field(ge=1)
    annotation_level: Literal["notice", "warning", "failure"]
    message: str = Field(min_length=1)
    title: str | None = Field(default=None, max_length=TITLE_LIMIT)

    @model_validator(mode="after")
    def _github_rules(self) -> CheckAnnotation:
        if self.end_line < self.start_line:
            raise ValueError("end_line is before start_line")
        if len(self.message.encode("utf-8")) > MESSAGE_BYTES:
            raise ValueError("message is over 64 KB")
        return self

    @classmethod
    def of(cls, annotation: Annotation) -> CheckAnnotation:
        return cls(
            path=annotation.path,
            start_line=annotation.start_line,
            end_line=max(annotation.end_line, annotation.start_line),
            annotation_level=annotation.level.value,
            message=clip_bytes(annotation.message or annotation.title or "-", MESSAGE_BYTES),
            title=clip(annotation.title, TITLE_LIMIT) or None,
        )


class CheckOutput(BaseModel):
    title: str = Field(min_length=1, max_length=TITLE_LIMIT)
    summary: str = Field(min_length=1, max_length=TEXT_LIMIT)
    text: str | None = Field(default=None, max_length=TEXT_LIMIT)
    annotations: list[CheckAnnotation] = Field(
        default_factory=list, max_length=ANNOTATIONS_PER_REQUEST
    )

    def body(self) -> dict[str, Any]:
        # An empty list is left out: GitHub then keeps the annotations posted before.
        body = self.model_dump(exclude_none=True)
        if not self.annotations:
            del body["annotations"]
        return body


class CheckAction(BaseModel):
    """A button on a check run; pressing it sends `check_run` `requested_action`."""

    label: str = Field(min_length=1, max_length=20)
    description: str = Field(min_length=1, max_length=40)
    identifier: str = Field(min_length=1, max_length=20)


class Completion(BaseModel):
    """How a check run ends: its conclusion, output and every annotation to post."""

    conclusion: Literal["success", "neutral", "failure", "skipped"]
    title: str
    summary: str
    text: str | None = None
    annotations: list[CheckAnnotation] = Field(default_factory=list)
    actions: list[CheckAction] = Field(default_factory=list, max_length=3)
    # Why the report could not be made (archive refused, an error), for the job's log line.
    problem: str | None = None

    def requests(self, posted: int = 0) -> Iterator[dict[str, Any]]:
        """The PATCH bodies that post this completion, at most 50 annotations each.

        Annotation batches go first while the run is still in progress (GitHub appends
        them); the last request carries the text and completes the run, so a run shown as
        completed has all its annotations. `posted` annotations are left out: a resumed
        job's run already has them (the engine gives the same ones, in the same order).
        """
        title = clip(self.title, TITLE_LIMIT)
        batches = list(_chunks(self.annotations[posted:], ANNOTATIONS_PER_REQUEST)) or [[]]
        for batch in batches[:-1]:
            yield {
                "output": CheckOutput(title=title, summary=self.summary, annotations=batch).body()
            }
        last: dict[str, Any] = {
            "status": "completed",
            "conclusion": self.conclusion,
            "output": CheckOutput(
                title=title, summary=self.summary, text=self.text, annotations=batches[-1]
            ).body(),
        }
        if self.actions:
            last["actions"] = [action.model_dump() for action in self.actions]
        yield last

    def create_body(self, name: str, head_sha: str, external_id: str) -> dict[str, Any]:
        """A POST body creating the run already completed (no annotations: none to show)."""
        return {
            "name": name,
            "head_sha": head_sha,
            "external_id": external_id,
            "status": "completed",
            "conclusion": self.conclusion,
            "output": CheckOutput(
                title=clip(self.title, TITLE_LIMIT), summary=self.summary, text=self.text
            ).body(),
        }


def _chunks(items: list[CheckAnnotation], size: int) -> Iterable[list[CheckAnnotation]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
