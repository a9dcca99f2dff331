"""The judges' prompts and answers: a rubric from the profile in, a validated verdict out.

A judge is data (`checks.profile.ReviewJudge`: title, what it reads, instructions and a
sentence per score). The model is asked for one JSON object following `ANSWER_SCHEMA`;
`parse_answer` tolerates code fences and prose around it, then `JudgeAnswer` validates
it. Suggestions become `notice` annotations only where their file and line exist.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from checks.models import Annotation, Level
from checks.profile import ReviewJudge
from checks.snapshot import Snapshot
from github_app.review.context import SentFile, file_lines
from github_app.review.llm import InvalidAnswer

SUMMARY_WORDS = 200
SUGGESTIONS = 10
SUGGESTION_CHARS = 1000
# The invalid answer repeated back to the model when asking again, at most.
ECHO_CHARS = 4000

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["score", "summary", "confidence", "suggestions"],
    "properties": {
        "score": {"type": "integer", "minimum": 1, "maximum": 5},
        "summary": {"type": "string", "description": f"at most {SUMMARY_WORDS} words"},
        "confidence": {"type": "integer", "minimum": 1, "maximum": 10},
        "suggestions": {
            "type": "array",
            "maxItems": SUGGESTIONS,
            "items": {
                "type": "object",
                "required": ["path", "line", "message"],
                "properties": {
                    "path": {"type": "string", "description": "a file path as listed"},
                    "line": {"type": "integer", "minimum": 1},
                    "message": {"type": "string", "description": "one concrete change"},
                },
            },
        },
    },
}

_FENCE = re.compile(r"```[A-Za-z]*[ \t]*\n?(.*?)```", re.S)


class Suggestion(BaseModel):
    path: str = Field(min_length=1)
    line: int = Field(ge=1)
    message: str = Field(min_length=1)

    @field_validator("message", mode="before")
    @classmethod
    def _short(cls, message: Any) -> Any:
        if isinstance(message, str) and len(message) > SUGGESTION_CHARS:
            return message[: SUGGESTION_CHARS - 1] + "…"
        return message


class JudgeAnswer(BaseModel):
    """A judge's verdict as the model gave it (before its suggestions are placed)."""

    score: int = Field(ge=1, le=5)
    summary: str = Field(min_length=1)
    confidence: int = Field(ge=1, le=10)
    suggestions: list[Suggestion] = Field(default_factory=list, max_length=SUGGESTIONS)

    @field_validator("summary", mode="before")
    @classmethod
    def _at_most_200_words(cls, summary: Any) -> Any:
        # A few words too many is still good advice: keep the first 200 rather than
        # asking again. Whitespace inside (paragraphs) is kept.
        if not isinstance(summary, str):
            return summary
        words = list(re.finditer(r"\S+", summary))
        if len(words) <= SUMMARY_WORDS:
            return summary.strip()
        return summary[: words[SUMMARY_WORDS - 1].end()].strip() + " …"

    @field_validator("suggestions", mode="before")
    @classmethod
    def _first_ten(cls, suggestions: Any) -> Any:
        # Extra suggestions are dropped rather than failing a whole answer.
        return suggestions[:SUGGESTIONS] if isinstance(suggestions, list) else suggestions


def system_prompt(judge: ReviewJudge, course: str) -> str:
    """The judge's instructions, rubric and answer format."""
    scale = "\n".join(f"{score}: {judge.scale[score]}" for score in sorted(judge.scale))
    return (
        f"You are a teaching assistant in the course {course or 'Machine Learning Operations'}, "
        f"reviewing one student group's repository. You judge one aspect: {judge.title}.\n\n"
        f"{judge.instructions}\n\n"
        f"Score it on this scale:\n{scale}\n\n"
        "You are shown the repository's layout and its most relevant files, every line "
        "prefixed with its number. Files marked as not shown exist but are not shown to you: "
        "do not guess their content.\n\n"
        "Answer with ONE JSON object and nothing else, following this JSON schema:\n"
        f"{json.dumps(ANSWER_SCHEMA, separators=(',', ':'))}\n\n"
        f'- "summary": at most {SUMMARY_WORDS} words, written to the students: what is '
        "good and what to improve first. Plain, specific and encouraging.\n"
        '- "confidence": how sure you are of the score given what you were shown, from 1 '
        "(a guess) to 10 (certain).\n"
        f'- "suggestions": at most {SUGGESTIONS} concrete changes, each at a "path" exactly '
        'as listed and the "line" number shown in front of the line it is about.'
    )


def user_prompt(context_text: str, judge: ReviewJudge) -> str:
    return (
        f"{context_text}\n"
        f"Judge the {judge.title.lower()} of this repository. Reply with the JSON object only."
    )


def retry_messages(reply: str, reason: str) -> list[dict[str, str]]:
    """What to add to the conversation to ask once more after an unusable reply."""
    echoed = reply if len(reply) <= ECHO_CHARS else reply[:ECHO_CHARS] + "…"
    again = {
        "role": "user",
        "content": f"That answer could not be used: {reason}. Reply again with only the "
        "JSON object, following the schema exactly.",
    }
    # An empty reply is not repeated: some servers refuse a message without content.
    return [{"role": "assistant", "content": echoed}, again] if reply.strip() else [again]


def parse_answer(reply: str) -> JudgeAnswer:
    """The JSON object in `reply` (code fences and text around it tolerated), validated."""
    fenced = _FENCE.search(reply)
    text = fenced.group(1) if fenced else reply
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise InvalidAnswer("it holds no JSON object")
    try:
        data = json.loads(text[start : end + 1])
    except json.JSONDecodeError as exc:
        raise InvalidAnswer(f"it is not valid JSON ({exc.msg})") from None
    try:
        return JudgeAnswer.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in error['loc']) or 'answer'}: {error['msg']}"
            for error in exc.errors()[:3]
        ]
        raise InvalidAnswer("; ".join(problems)) from None


def place_suggestions(
    answer: JudgeAnswer,
    judge: ReviewJudge,
    snapshot: Snapshot,
    sent: dict[str, SentFile],
    rank: int = 100,
) -> tuple[list[Annotation], int]:
    """The suggestions as `notice` annotations, and how many were dropped.

    A suggestion is dropped when its file is not in the snapshot or its line is not in
    the file. Notebook lines count in the code cells the model was shown, which are not
    the file's lines, so those notes go on the notebook's first line and name the line.
    """
    placed: list[Annotation] = []
    for suggestion in answer.suggestions:
        path = suggestion.path.strip().removeprefix("./").lstrip("/")
        if not snapshot.is_file(path):
            continue
        shown = sent.get(path)
        message = suggestion.message
        line = suggestion.line
        if shown is not None and shown.notebook:
            if line > shown.lines:
                continue
            message = f"(line {line} of the notebook's code cells) {message}"
            line = 1
        else:
            text = snapshot.text(path)
            if text is None or line > len(file_lines(text)):
                continue
        placed.append(
            Annotation(
                path=path,
                start_line=line,
                end_line=line,
                level=Level.notice,
                title=f"AI review · {judge.title}",
                message=message,
                rank=rank,
            )
        )
    return placed, len(answer.suggestions) - len(placed)
