#!/usr/bin/env python3
"""Set-up in one command on a fresh machine with nothing but Python 3.11.

    python3 dev.py demo   # venv, install, migrate, Jiaxing divisions, demo data, pipeline, serve on 127.0.0.1:8000
    python3 dev.py test   # venv, install with test tools, ruff, then the whole test suite (SQLite)

Both are safe to run again: the install is skipped while pyproject.toml is unchanged, and every
data command is idempotent. Extra arguments after `test` go to pytest.
"""

import hashlib
import os
import secrets
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def run(*args, **kwargs):
    print("+", " ".join(str(arg) for arg in args), flush=True)
    subprocess.run([str(arg) for arg in args], cwd=ROOT, check=True, **kwargs)


def requirements(extras: str) -> list[str]:
    """The dependencies declared in pyproject.toml (the app is run from the checkout, not installed)."""
    import tomllib  # here, so that an older Python reaches the version message below

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    optional = project.get("optional-dependencies", {})
    return [*project["dependencies"], *(req for extra in extras.strip("[]").split(",") if extra for req in optional[extra])]


def ensure_installed(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script may be started by any python3
        sys.exit(f"Python 3.11 or newer is needed, this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        print(f"creating the virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()[:16]
    stamp = VENV / f".installed-{digest}"
    if stamp.exists():
        return
    run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PYTHON, "-m", "pip", "install", "--quiet", *requirements(extras))
    for old in VENV.glob(".installed-*"):
        old.unlink()
    stamp.touch()


def manage(*args):
    run(PYTHON, "manage.py", *args)


def demo(args):
    ensure_installed("")
    manage("migrate", "--no-input")
    manage("seed_demo")
    manage("run_pipeline")
    if "--no-serve" in args:
        return
    environment = demo_server_environment()
    run(PYTHON, "manage.py", "collectstatic", "--no-input", "--verbosity", "0", env=environment)
    print("\nJiaxing QS: open http://127.0.0.1:8000/ (logins above; Ctrl+C stops the server)\n", flush=True)
    run(PYTHON, "manage.py", "runserver", "127.0.0.1:8000", env=environment)


def demo_server_environment() -> dict[str, str]:
    """The demo is served as in production, DEBUG off (the site's own error pages, never Django's debug page),
    but over plain HTTP on this machine, with e-mail printed, codes encoding this address and a secret key made
    once and kept in var/. Whatever the environment already sets wins."""
    environment = dict(os.environ)
    address = "http://127.0.0.1:8000"
    for name, value in {"DEBUG": "false", "HTTPS": "false", "PUBLIC_BASE_URL": address}.items():
        environment.setdefault(name, value)
    environment.setdefault("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
    if not environment.get("SECRET_KEY"):
        key_file = Path(environment.get("JQS_VAR_DIR") or ROOT / "var") / "demo-secret-key"
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_urlsafe(50), encoding="ascii")
            key_file.chmod(0o600)
        environment["SECRET_KEY"] = key_file.read_text(encoding="ascii").strip()
    return environment


def test(args):
    ensure_installed("[test]")
    run(BIN / "ruff", "check", ".")
    run(BIN / "ruff", "format", "--check", ".")
    run(PYTHON, "-m", "pytest", *args)


COMMANDS = {"demo": demo, "test": test}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    try:
        COMMANDS[sys.argv[1]](sys.argv[2:])
    except subprocess.CalledProcessError as error:
        sys.exit(error.returncode)
    except KeyboardInterrupt:
        sys.exit(130)
