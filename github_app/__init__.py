"""mlops-mentor's GitHub App: a push becomes a check run with annotations.

`import github_app` stays cheap (the `check` command never pays for Flask or githubkit):
`create_app` is imported on first use, e.g. by `gunicorn 'github_app:create_app()'`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from github_app.web import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from github_app.web import create_app

        return create_app
    raise AttributeError(f"module 'github_app' has no attribute {name!r}")
