"""The lint configuration's two banned-api tables stay in step.

ruff replaces a nested config's banned-api table instead of merging it, so
audit/ruff.toml repeats the project's bans minus `audit.models`. A ban added
to pyproject.toml alone would silently not apply inside audit/.
"""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def banned_api(table: dict) -> dict:
    return table["lint"]["flake8-tidy-imports"]["banned-api"]


def test_it_bans_in_audit_everything_the_project_bans_but_the_audit_models():
    project = banned_api(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"])
    audit = banned_api(tomllib.loads((ROOT / "audit" / "ruff.toml").read_text()))
    assert "audit.models" in project
    assert audit == {name: ban for name, ban in project.items() if name != "audit.models"}


def test_it_bans_salted_hmac_and_cryptography_outside_portal_crypto():
    project = banned_api(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"])
    assert {"cryptography", "django.utils.crypto.salted_hmac"} <= project.keys()
