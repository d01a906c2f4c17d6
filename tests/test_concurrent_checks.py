"""Inspectors submitting at the same moment: every check stored once, nobody sees a server error — on SQLite (the
embedded default, where writers must wait for each other) as on PostgreSQL.

Each request runs in its own thread with its own database connection, as under gunicorn (tests/concurrency.py).
"""

import uuid

import pytest
from django.test import Client

from inspections.models import CheckResult, DrawArm, InspectionTask, SpotCheckResult, TaskAssignment
from products.models import ChecklistItem
from regions.models import Role

from .clock import TEST_TODAY
from .concurrency import SharedDatabase
from .factories import EnterpriseFactory, EnterpriseProductFactory, ProductFactory, StaffProfileFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def officers(county, pair: int) -> list:
    return [
        StaffProfileFactory(user=UserFactory(username=f"officer_{pair}_{n}", password=None), role=Role.INSPECTOR, jurisdiction=county).user
        for n in (1, 2)
    ]


def open_task(town, pair: list) -> InspectionTask:
    product = ProductFactory()
    ChecklistItem.objects.bulk_create([ChecklistItem(product=product, order=n, text=f"检查项{n}") for n in (1, 2)])
    enterprise = EnterpriseFactory(town=town)
    EnterpriseProductFactory(enterprise=enterprise, product=product)
    task = InspectionTask.objects.create(
        enterprise=enterprise, product=product, arm=DrawArm.RISK, reason="风险分层抽取", due_date=TEST_TODAY
    )
    TaskAssignment.objects.bulk_create([TaskAssignment(task=task, officer=officer, position=n) for n, officer in enumerate(pair, 1)])
    return task


def form_data(task, co_inspector, key: uuid.UUID) -> dict:
    data = {
        "submission_key": str(key),
        "checked_on": TEST_TODAY.isoformat(),
        "co_inspector": co_inspector.pk,
        "conclusion": "conforming",
        "note": "",
    }
    for item in task.product.checklist_items.all():
        data[f"item_{item.pk}"] = "conforming"
        data[f"note_{item.pk}"] = ""
    return data


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def submitting(client: Client, task, data: dict):
    """A tap on "submit": the form's POST, then the page it leads to (the confirmation)."""

    def tap():
        response = client.post(f"/tasks/{task.pk}/check/", data)
        if response.status_code != 302:
            return response.status_code, response["Location"] if response.has_header("Location") else ""
        confirmation = client.get(response["Location"])
        return confirmation.status_code, confirmation.content.decode()

    return tap


def test_checks_of_different_tasks_submitted_at_once_are_all_stored(town, county, tmp_path):
    pairs = [officers(county, n) for n in range(6)]
    tasks = [open_task(town, pair) for pair in pairs]
    taps = [submitting(logged_in(first), task, form_data(task, second, uuid.uuid4())) for task, (first, second) in zip(tasks, pairs)]

    database = SharedDatabase(tmp_path)
    outcomes = database.run(taps)

    assert [outcome.error for outcome in outcomes] == [None] * 6
    assert [outcome.value[0] for outcome in outcomes] == [200] * 6, "every officer reaches the confirmation"
    numbers = database.read(lambda: dict(CheckResult.objects.values_list("task_id", "number")))
    assert sorted(numbers) == sorted(task.pk for task in tasks)
    for task, outcome in zip(tasks, outcomes):
        assert numbers[task.pk] in outcome.value[1]
    assert database.read(SpotCheckResult.objects.count) == 6


def test_the_same_submission_tapped_many_times_at_once_stores_one_result(town, county, tmp_path):
    first, second = officers(county, 0)
    task = open_task(town, [first, second])
    data = form_data(task, second, uuid.uuid4())
    clients = [logged_in(first) for _n in range(20)]

    database = SharedDatabase(tmp_path)
    outcomes = database.run([submitting(client, task, data) for client in clients])

    assert [outcome.error for outcome in outcomes] == [None] * 20
    assert [outcome.value[0] for outcome in outcomes] == [200] * 20
    number = database.read(lambda: CheckResult.objects.get(task=task).number)
    assert all(number in outcome.value[1] for outcome in outcomes), "every tap shows the same confirmation"
    assert database.read(CheckResult.objects.count) == 1
    assert database.read(SpotCheckResult.objects.count) == 1
