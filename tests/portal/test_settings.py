"""Production refuses to start without its secrets (fail closed)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOW = "import django; django.setup(); from django.conf import settings; print({})"


def run(code_or_args: list[str], **env) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_", "PORTAL_", "ALLOWED_HOSTS", "EMAIL_"))
    }
    return subprocess.run(
        [sys.executable, *code_or_args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_it_refuses_to_start_in_production_without_a_secret_key():
    for command in (["manage.py", "check", "--deploy"], ["-c", "import portal.wsgi"]):
        result = run(command, PORTAL_ENV="production")
        assert result.returncode != 0
        assert "SECRET_KEY" in result.stderr


def test_it_names_each_missing_production_setting(tmp_path):
    key = tmp_path / "secret_key"
    key.write_text("k" * 64)
    result = run(
        ["manage.py", "check", "--deploy"], PORTAL_ENV="production", DJANGO_SECRET_KEY_FILE=str(key)
    )
    assert result.returncode != 0
    for code in ("portal.E002", "portal.E003", "portal.E005", "portal.E006"):
        assert code in result.stderr
    assert "portal.E001" not in result.stderr


def test_it_refuses_to_serve_in_production_without_its_settings(tmp_path):
    key = tmp_path / "secret_key"
    key.write_text("k" * 64)
    result = run(
        ["-c", "import portal.wsgi"], PORTAL_ENV="production", DJANGO_SECRET_KEY_FILE=str(key)
    )
    assert result.returncode != 0
    assert "portal.E002" in result.stderr


def test_it_defaults_to_production_when_nothing_is_said():
    result = run(
        [
            "-c",
            SHOW.format("settings.PORTAL_ENV, settings.DEBUG"),
        ],
        DJANGO_SETTINGS_MODULE="portal.settings",
    )
    assert result.stdout.split() == ["production", "False"]


def test_it_never_turns_debug_on_in_production():
    result = run(
        [
            "-c",
            SHOW.format("settings.DEBUG"),
        ],
        DJANGO_SETTINGS_MODULE="portal.settings",
        PORTAL_ENV="production",
        DJANGO_DEBUG="1",
    )
    assert result.stdout.strip() == "False"


def production_env(tmp_path: Path) -> dict[str, str]:
    """A complete production configuration.

    The same files scripts/dev-secrets.py writes for development, here in a
    scratch directory, handed over as a production deployment would.
    """
    var = tmp_path / "var"
    subprocess.run(
        [sys.executable, "scripts/dev-secrets.py", "--var-dir", str(var)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return {
        "PORTAL_ENV": "production",
        "DJANGO_SECRET_KEY_FILE": str(var / "secret_key"),
        "ALLOWED_HOSTS": "portal.example.org",
        "DATABASE_URL": "postgres://u:p@127.0.0.1:1/x",
        "EMAIL_HOST": "smtp.example.org",
        "PORTAL_BASE_URL": "https://portal.example.org",
        "PORTAL_KEKS_FILE": str(var / "keks"),
        "PORTAL_BLIND_INDEX_KEY_FILE": str(var / "blind_index_key"),
        "PORTAL_KEY_STORE_DIR": str(var / "keystore"),
        "PORTAL_AUDIT_SIGNING_KEY_FILE": str(var / "audit_signing_key"),
    }


CHECK = ["manage.py", "check", "--deploy", "--fail-level", "ERROR"]


def test_it_passes_with_every_secret_given(tmp_path):
    result = run(CHECK, **production_env(tmp_path))
    assert result.returncode == 0, result.stderr


def test_it_refuses_production_without_a_base_url_for_links_in_mail(tmp_path):
    complete = production_env(tmp_path)
    for base_url in ("", "http://portal.example.org"):
        result = run(CHECK, **{**complete, "PORTAL_BASE_URL": base_url})
        assert result.returncode != 0
        assert "portal.E006" in result.stderr


SHOW_DEV = SHOW.format("settings.DEBUG, settings.SECURE_HSTS_PRELOAD")


def test_it_reads_yes_and_no_in_every_accepted_spelling():
    for words, expected in (
        (("1", "true", "YES", " On ", "True"), "True"),
        (("0", "false", "NO", " off ", "", "  "), "False"),
    ):
        for word in words:
            result = run(
                ["-c", SHOW_DEV],
                DJANGO_SETTINGS_MODULE="portal.settings",
                PORTAL_ENV="development",
                DJANGO_DEBUG=word,
                PORTAL_HSTS_PRELOAD=word,
            )
            assert result.stdout.split() == [expected, expected], (word, result.stderr)


def test_it_refuses_to_start_on_a_yes_no_setting_it_cannot_read():
    for name in ("DJANGO_DEBUG", "PORTAL_HSTS_PRELOAD"):
        result = run(
            ["-c", SHOW_DEV],
            DJANGO_SETTINGS_MODULE="portal.settings",
            PORTAL_ENV="development",
            **{name: "ture"},
        )
        assert result.returncode != 0
        assert f"{name} must be 1/0, true/false, yes/no or on/off, not 'ture'" in result.stderr
