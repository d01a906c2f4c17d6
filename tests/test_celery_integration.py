"""The pipeline on a real Celery worker over Redis, sharing the PostgreSQL test database."""

import datetime as dt
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from enterprises.models import Category, Enterprise, EnterpriseProduct, RiskClass
from enterprises.validators import uscc_check_character
from inspections.models import SpotCheckResult
from products.models import Grade, HarmSeverity, LicenceType, Product, ProductClass
from regions.imports import load_jiaxing
from regions.models import Colour, Region, RegionSnapshot

from .services import require_postgres, require_redis, shared_database_url

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.services, pytest.mark.real_clock, pytest.mark.django_db(transaction=True)]


def credit_code(serial: int) -> str:
    first17 = f"91330481MA{serial:07d}"
    return first17 + uscc_check_character(first17)


def make_town_with_risk(town: Region, *, enterprises: int, nonconforming: int, as_of: dt.date) -> list[Enterprise]:
    product_class = ProductClass.objects.create(code="01", name="家用电器")
    heater = Product.objects.create(
        code="01001",
        name="电暖器",
        product_class=product_class,
        harm_severity=HarmSeverity.SEVERE,
        licence_type=LicenceType.NONE,
        vulnerable_users=True,
    )
    made = []
    for serial in range(enterprises):
        enterprise = Enterprise.objects.create(credit_code=credit_code(serial), name=f"海宁市测试电器{serial}厂", town=town)
        EnterpriseProduct.objects.create(enterprise=enterprise, product=heater)
        SpotCheckResult.objects.create(
            enterprise=enterprise,
            product=heater,
            checked_on=as_of - dt.timedelta(days=30),
            conforming=serial >= nonconforming,
            lab_report_number=f"CI-{serial}",
        )
        made.append(enterprise)
    return made


def start_worker(env: dict, log_path: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "jiaxing_qs",
        "worker",
        "--pool=solo",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        "-n",
        f"{env['CELERY_TASK_DEFAULT_QUEUE']}@%h",
    ]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_path.open("w"), stderr=subprocess.STDOUT)


def wait_until_ready(log_path: Path, worker: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            pytest.fail(f"the Celery worker exited early:\n{log_path.read_text()}")
        if "ready." in log_path.read_text():
            return
        time.sleep(0.5)
    pytest.fail(f"the Celery worker was not ready within {seconds} s:\n{log_path.read_text()}")


def test_run_pipeline_executes_on_a_real_worker_and_updates_the_database(tmp_path):
    require_postgres()
    broker = require_redis()
    as_of = dt.date(2026, 11, 26)
    load_jiaxing()
    town = Region.objects.get(code="330481101")  # a town of Haining
    enterprises = make_town_with_risk(town, enterprises=10, nonconforming=3, as_of=as_of)

    queue = f"jqs-ci-{uuid.uuid4().hex[:8]}"  # a private queue: no other worker can take these tasks
    env = {**os.environ, "DATABASE_URL": shared_database_url(), "CELERY_BROKER_URL": broker, "CELERY_TASK_DEFAULT_QUEUE": queue}
    log_path = tmp_path / "worker.log"
    worker = start_worker(env, log_path)
    try:
        wait_until_ready(log_path, worker)
        run = subprocess.run(
            [sys.executable, "manage.py", "run_pipeline", "--as-of", as_of.isoformat(), "--timeout", "120"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert run.returncode == 0, run.stderr + log_path.read_text()
    with translation.override(settings.LANGUAGE_CODE):  # a command speaks the site language
        assert _("on the Celery workers") in run.stdout
    assert f"[{queue}@" in run.stdout, "every stage reports the worker that ran it"
    assert "in-process" not in run.stdout

    risk = {e.pk for e in Enterprise.objects.filter(risk_class=RiskClass.RISK)}
    assert risk == {e.pk for e in enterprises[:3]}
    assert Product.objects.get(code="01001").grade == Grade.HIGH
    assert set(Enterprise.objects.filter(pk__in=risk).values_list("category", flat=True)) == {Category.TIGHTENED}
    snapshot = RegionSnapshot.objects.get(region=town, period=as_of.replace(day=1))
    assert (snapshot.risk_count, snapshot.enterprise_count, snapshot.colour) == (3, 10, Colour.RED)
    assert snapshot.index is not None
    county = RegionSnapshot.objects.get(region__code="330481", period=as_of.replace(day=1))
    assert (county.risk_count, county.enterprise_count) == (3, 10)
