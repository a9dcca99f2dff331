"""The durability tests' `publish` fixture (commit files, serve the commit), reused here."""

from tests.durability.conftest import publish

__all__ = ["publish"]
