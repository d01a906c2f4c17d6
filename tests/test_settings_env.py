"""Settings come from the environment through typed readers: defaults when unset or empty, a loud failure on a bad value."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from common.env import envbool, envint, envlist, envstr

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("raw", ["1", "true", "True", "YES", "on", " yes "])
def test_envbool_reads_true(monkeypatch, raw):
    monkeypatch.setenv("JQS_TEST_FLAG", raw)
    assert envbool("JQS_TEST_FLAG", False) is True


@pytest.mark.parametrize("raw", ["0", "false", "No", "OFF"])
def test_envbool_reads_false(monkeypatch, raw):
    monkeypatch.setenv("JQS_TEST_FLAG", raw)
    assert envbool("JQS_TEST_FLAG", True) is False


@pytest.mark.parametrize("raw", ["", "   "])
def test_envbool_gives_the_default_when_empty(monkeypatch, raw):
    monkeypatch.setenv("JQS_TEST_FLAG", raw)
    assert envbool("JQS_TEST_FLAG", True) is True
    assert envbool("JQS_TEST_FLAG", False) is False


def test_envbool_gives_the_default_when_unset(monkeypatch):
    monkeypatch.delenv("JQS_TEST_FLAG", raising=False)
    assert envbool("JQS_TEST_FLAG", True) is True


@pytest.mark.parametrize("raw", ["ture", "2", "enabled", "y"])
def test_envbool_fails_loudly_on_a_value_it_cannot_read(monkeypatch, raw):
    monkeypatch.setenv("JQS_TEST_FLAG", raw)
    with pytest.raises(ImproperlyConfigured, match="JQS_TEST_FLAG must be one of"):
        envbool("JQS_TEST_FLAG", False)


def test_envint_reads_an_integer(monkeypatch):
    monkeypatch.setenv("JQS_TEST_NUMBER", " 1800 ")
    assert envint("JQS_TEST_NUMBER", 900) == 1800


@pytest.mark.parametrize("raw", ["", "  "])
def test_envint_gives_the_default_when_empty(monkeypatch, raw):
    monkeypatch.setenv("JQS_TEST_NUMBER", raw)
    assert envint("JQS_TEST_NUMBER", 900) == 900


@pytest.mark.parametrize("raw", ["15m", "1.5", "nine hundred"])
def test_envint_fails_loudly_on_a_value_it_cannot_read(monkeypatch, raw):
    monkeypatch.setenv("JQS_TEST_NUMBER", raw)
    with pytest.raises(ImproperlyConfigured, match="JQS_TEST_NUMBER must be an integer"):
        envint("JQS_TEST_NUMBER", 900)


def test_envlist_splits_on_commas_and_drops_blanks(monkeypatch):
    monkeypatch.setenv("JQS_TEST_HOSTS", "qs.example, 10.0.0.5 ,,")
    assert envlist("JQS_TEST_HOSTS", ["localhost"]) == ["qs.example", "10.0.0.5"]
    monkeypatch.setenv("JQS_TEST_HOSTS", "")
    assert envlist("JQS_TEST_HOSTS", ["localhost"]) == ["localhost"]


def test_envstr_gives_the_default_when_empty(monkeypatch):
    monkeypatch.setenv("JQS_TEST_NAME", "")
    assert envstr("JQS_TEST_NAME", "嘉兴") == "嘉兴"
    monkeypatch.setenv("JQS_TEST_NAME", "海宁")
    assert envstr("JQS_TEST_NAME", "嘉兴") == "海宁"


def _import_settings(tmp_path, **environment) -> subprocess.CompletedProcess:
    """Import the settings module in a fresh interpreter with the given environment."""
    env = {key: value for key, value in os.environ.items() if key not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(JQS_VAR_DIR=str(tmp_path), **environment)
    return subprocess.run(
        [sys.executable, "-c", "import jiaxing_qs.settings as s; print(s.DATABASES['default']['ENGINE'], s.DEBUG)"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_settings_run_on_sqlite_with_nothing_configured(tmp_path):
    result = _import_settings(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "True"]


def test_settings_refuse_to_start_without_a_secret_key_when_debug_is_off(tmp_path):
    result = _import_settings(tmp_path, DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_settings_refuse_a_misspelt_debug_flag(tmp_path):
    result = _import_settings(tmp_path, DEBUG="flase")
    assert result.returncode != 0
    assert "DEBUG must be one of" in result.stderr


def test_settings_refuse_a_database_that_is_neither_sqlite_nor_postgresql(tmp_path):
    result = _import_settings(tmp_path, DATABASE_URL="mysql://root@127.0.0.1/jqs")
    assert result.returncode != 0
    assert "must point at SQLite or PostgreSQL" in result.stderr


def test_the_demo_is_served_with_debug_off_over_plain_http_with_a_key_kept_between_starts(tmp_path, monkeypatch):
    import dev

    for name in ("DEBUG", "HTTPS", "SECRET_KEY", "PUBLIC_BASE_URL", "EMAIL_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JQS_VAR_DIR", str(tmp_path))
    first, second = dev.demo_server_environment(), dev.demo_server_environment()
    assert (first["DEBUG"], first["HTTPS"], first["PUBLIC_BASE_URL"]) == ("false", "false", "http://127.0.0.1:8000")
    assert len(first["SECRET_KEY"]) > 50 and second["SECRET_KEY"] == first["SECRET_KEY"]
    assert oct((tmp_path / "demo-secret-key").stat().st_mode & 0o777) == "0o600"
    started = _import_settings(tmp_path, **{name: first[name] for name in ("DEBUG", "HTTPS", "SECRET_KEY")})
    assert started.returncode == 0, started.stderr
    assert started.stdout.split() == ["django.db.backends.sqlite3", "False"]
    monkeypatch.setenv("DEBUG", "true")  # what the environment sets wins
    assert dev.demo_server_environment()["DEBUG"] == "true"
