"""A fake OpenAI-compatible chat-completions endpoint over real HTTP on loopback.

It checks request bodies the way an OpenAI-compatible server does (400 otherwise),
records every request exactly as received (raw bytes and parsed JSON), and answers from
a queue of scripted replies, or by default with a valid answer that points at the first
file it was shown. Replies can be delayed, fail with a status, or carry any content.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

_FILE_HEADER = re.compile(r"^===== (\S+) \(\d+ lines?\)", re.M)
_ASPECT = re.compile(r"You judge one aspect: (.+?)\.\n")


@dataclass
class Reply:
    """One scripted answer: message `content`, or a raw `body`, after `delay` seconds."""

    content: str | None = None
    status: int = 200
    delay: float = 0.0
    body: Any = None


@dataclass
class Recorded:
    raw: bytes
    json: Any
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def aspect(self) -> str:
        """The judge's title, read from the system prompt."""
        match = _ASPECT.search(self.json["messages"][0]["content"])
        return match.group(1) if match else ""

    @property
    def user(self) -> str:
        return self.json["messages"][1]["content"]


def answer(
    score: Any = 4,
    summary: str = "Clear structure; add type hints to the training code.",
    confidence: Any = 7,
    suggestions: list[dict[str, Any]] | None = None,
) -> str:
    """An answer as a model would write it (JSON text)."""
    return json.dumps(
        {
            "score": score,
            "summary": summary,
            "confidence": confidence,
            "suggestions": suggestions or [],
        }
    )


def default_reply(request: Recorded) -> Reply:
    """A valid answer with one suggestion on line 1 of the first file shown."""
    shown = _FILE_HEADER.search(request.user)
    suggestions = (
        [{"path": shown.group(1), "line": 1, "message": f"{request.aspect}: start here."}]
        if shown
        else []
    )
    return Reply(content=answer(suggestions=suggestions))


class FakeLLM:
    """Serve `POST /v1/chat/completions` on 127.0.0.1 in a thread."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.script: list[Reply | Callable[[Recorded], Reply]] = []
        self.default: Callable[[Recorded], Reply] = default_reply
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}/v1"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def start(self) -> FakeLLM:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reply(self, *replies: Reply | Callable[[Recorded], Reply]) -> None:
        """Answer the next requests with these, in order (then with `default`)."""
        with self._lock:
            self.script.extend(replies)

    def bodies(self) -> list[bytes]:
        return [r.raw for r in self.requests]

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        response = self._handle(request)
        return response(environ, start_response)

    def _handle(self, request: Request) -> Response:
        if request.method != "POST" or request.path != "/v1/chat/completions":
            return _json({"error": {"message": "not found"}}, 404)
        raw = request.get_data()
        try:
            body = json.loads(raw)
        except ValueError:
            return _json({"error": {"message": "body is not JSON"}}, 400)
        problem = _invalid(body)
        if problem:
            return _json({"error": {"message": problem}}, 400)
        recorded = Recorded(raw, body, dict(request.headers.items()))
        with self._lock:
            self.requests.append(recorded)
            scripted = self.script.pop(0) if self.script else self.default
        reply = scripted(recorded) if callable(scripted) else scripted
        if reply.delay:
            time.sleep(reply.delay)
        if reply.status != 200:
            return _json({"error": {"message": "scripted failure"}}, reply.status)
        if reply.body is not None:
            return _json(reply.body, 200)
        return _json(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply.content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": len(raw) // 4, "completion_tokens": 50},
            },
            200,
        )


def _invalid(body: Any) -> str | None:
    """What an OpenAI-compatible server would refuse in a chat-completions body."""
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        return "model is required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages must be a non-empty array"
    for message in messages:
        if (
            not isinstance(message, dict)
            or message.get("role") not in ("system", "user", "assistant")
            or not isinstance(message.get("content"), str)
        ):
            return "each message needs a role and string content"
    return None


def _json(body: Any, status: int) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")
