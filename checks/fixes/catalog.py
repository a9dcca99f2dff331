"""Every fix mlops-mentor offers; importing this module registers them."""

from checks.fixes import dockerfile, gitignore, precommit, ruff_config, workflow

__all__ = ["dockerfile", "gitignore", "precommit", "ruff_config", "workflow"]
