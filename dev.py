#!/usr/bin/env python3
"""Set-up in one command on a fresh machine with nothing but Python 3.11.

    python3 dev.py demo   # venv, install, migrate, Jiaxing divisions, demo data, pipeline, serve on 127.0.0.1:8000
    python3 dev.py test   # venv, install with test tools, ruff, then the whole test suite (SQLite)

Both are safe to run again: the install is skipped while pyproject.toml is unchanged, and every
data command is idempotent. Extra arguments after `test` go to pytest.
"""

import hashlib
import os
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
    print("\nJiaxing QS: open http://127.0.0.1:8000/ (logins above; Ctrl+C stops the server)\n", flush=True)
    manage("runserver", "127.0.0.1:8000")


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
