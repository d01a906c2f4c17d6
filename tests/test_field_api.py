"""The phone's outbox on the server (/api/field/…): the same check stored once, a re-used key a conflict, the work
of a task cancelled or reassigned while offline held for a supervisor, photos one request each."""

import datetime as dt
import io
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from inspections.fieldwork.services import check_result_submit, submission_digest
from inspections.models import CheckPhoto, CheckResult, Conclusion, FieldPhoto, HeldCheck, ItemOutcome, SpotCheckResult, TaskStatus

from .clock import SHANGHAI, TEST_TODAY
from .test_checks import checklist, colleague, partner, product, task  # noqa: F401  (fixtures from test_checks)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


@pytest.fixture(autouse=True)
def frozen_day(time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI))


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def phone(inspector):
    client = APIClient(enforce_csrf_checks=False, HTTP_ACCEPT_LANGUAGE="en")
    client.force_authenticate(inspector)
    return client


def jpeg(colour=(200, 180, 150), size=(640, 480)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG")
    return buffer.getvalue()


def check_body(task, partner, *, key, photos=(), outcomes=None, note=""):  # noqa: F811
    items = checklist(task)
    outcomes = outcomes or [ItemOutcome.CONFORMING] * len(items)
    conclusion = Conclusion.NONCONFORMING if ItemOutcome.NONCONFORMING in outcomes else Conclusion.CONFORMING
    return {
        "submission_key": str(key),
        "task": task.pk,
        "conclusion": conclusion,
        "items": [
            {"item": item.pk, "outcome": outcome, "note": "无进货记录" if outcome == ItemOutcome.NONCONFORMING else ""}
            for item, outcome in zip(items, outcomes)
        ],
        "co_inspector": partner.pk,
        "checked_on": TEST_TODAY.isoformat(),
        "lat": 30.5,
        "lon": 120.7,
        "accuracy": 12,
        "position_source": "gps",
        "note": note,
        "photos": list(photos),
    }


def send_photo(phone, key, photo_id, content):
    upload = SimpleUploadedFile(f"{photo_id}.jpg", content, content_type="image/jpeg")
    return phone.post("/api/field/photos/", {"submission_key": str(key), "photo_id": photo_id, "image": upload}, format="multipart")


def held_reason_text(response) -> str:
    return response.json()["error"]["message"]


def send_check(phone, body):
    return phone.post("/api/field/checks/", body, format="json")


def test_the_same_check_sent_twice_is_stored_once_with_the_same_confirmation(phone, task, partner):  # noqa: F811
    key = uuid.uuid4()
    assert send_photo(phone, key, "p1", jpeg()).status_code == 201
    assert send_photo(phone, key, "p1", jpeg()).status_code == 200, "a photo sent again is the kept one"
    first = send_check(phone, check_body(task, partner, key=key, photos=["p1"]))
    again = send_check(phone, check_body(task, partner, key=key, photos=["p1"]))  # the answer to the first was lost
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["number"] == again.json()["number"] == CheckResult.objects.get().number
    assert (first.json()["created"], again.json()["created"], again.json()["yours"]) == (True, False, True)
    assert CheckResult.objects.count() == SpotCheckResult.objects.count() == 1
    assert CheckPhoto.objects.count() == 1 and FieldPhoto.objects.count() == 0, "the photo became the result's"


def test_a_key_reused_with_other_content_is_a_conflict_and_overwrites_nothing(phone, task, partner):  # noqa: F811
    key = uuid.uuid4()
    send_check(phone, check_body(task, partner, key=key))
    outcomes = [ItemOutcome.NONCONFORMING] + [ItemOutcome.CONFORMING] * (len(checklist(task)) - 1)
    response = send_check(phone, check_body(task, partner, key=key, outcomes=outcomes))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "key_reused"
    result = CheckResult.objects.get()
    assert result.conclusion == Conclusion.CONFORMING and not result.items.filter(outcome=ItemOutcome.NONCONFORMING).exists()


def test_another_photo_under_a_sent_photos_id_is_a_conflict(phone):
    key = uuid.uuid4()
    send_photo(phone, key, "p1", jpeg())
    response = send_photo(phone, key, "p1", jpeg(colour=(10, 20, 30)))
    assert response.status_code == 409 and response.json()["error"]["code"] == "photo_conflict"
    assert FieldPhoto.objects.count() == 1


def test_a_check_whose_photos_have_not_arrived_waits_for_them(phone, task, partner):  # noqa: F811
    response = send_check(phone, check_body(task, partner, key=uuid.uuid4(), photos=["p1"]))
    assert response.status_code == 409 and response.json()["error"]["code"] == "photos_missing"
    assert not CheckResult.objects.exists()


def test_a_check_for_a_task_cancelled_while_offline_is_held_with_its_photos(phone, task, partner):  # noqa: F811
    task.status = TaskStatus.CANCELLED
    task.save(update_fields=["status"])
    key = uuid.uuid4()
    send_photo(phone, key, "p1", jpeg())
    body = check_body(task, partner, key=key, photos=["p1"], note="现场已检查")
    response = send_check(phone, body)
    again = send_check(phone, body)
    assert response.status_code == again.status_code == 409
    assert response.json()["error"]["code"] == "held"
    assert held_reason_text(response) != ""
    held = HeldCheck.objects.get()
    assert response.json()["error"]["details"] == {"held": held.pk}
    assert (held.task_id, held.payload["note"], held.photos.count()) == (task.pk, "现场已检查", 1)
    assert not CheckResult.objects.exists()


def test_a_check_for_a_task_reassigned_while_offline_is_held(phone, task, partner, inspector):  # noqa: F811
    task.assignments.filter(officer=inspector).delete()
    response = send_check(phone, check_body(task, partner, key=uuid.uuid4()))
    assert response.json()["error"]["code"] == "held"
    assert HeldCheck.objects.get().reason != ""


def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(phone, task, partner):  # noqa: F811
    body = check_body(task, partner, key=uuid.uuid4()) | {"conclusion": "maybe"}
    response = send_check(phone, body)
    assert response.status_code == 400 and "conclusion" in response.json()["error"]["details"]
    photo = send_photo(phone, uuid.uuid4(), "p1", b"not a photo")
    assert photo.status_code == 400 and "image" in photo.json()["error"]["details"]
    assert not CheckResult.objects.exists() and not FieldPhoto.objects.exists()


def test_a_note_may_be_blank_but_holds_no_nul_character_as_its_schema_says(phone, task, partner):  # noqa: F811
    body = check_body(task, partner, key=uuid.uuid4(), note="门店\x00后仓")
    response = send_check(phone, body)
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"note": ["不允许是用空字符串。"]}  # Django's own (odd) wording, once
    note = phone.get("/api/schema/?format=json").json()["components"]["schemas"]["FieldItem"]["properties"]["note"]
    assert {"type": "string", "maxLength": 0} in note["oneOf"] and note["oneOf"][0]["pattern"] == "^[^\\u0000]+$"
    assert send_check(phone, check_body(task, partner, key=uuid.uuid4(), note="")).status_code == 201


def test_a_rule_refusal_names_the_check_points_field(phone, task, partner):  # noqa: F811
    body = check_body(task, partner, key=uuid.uuid4())
    body["items"][0] = {"item": body["items"][0]["item"], "outcome": ItemOutcome.NONCONFORMING, "note": ""}
    response = send_check(phone, body)
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert f"note_{body['items'][0]['item']}" in details and "note" in details, "every problem at once"


def test_the_phone_gets_its_open_tasks_with_checklists(phone, task, inspector, django_assert_max_num_queries):  # noqa: F811
    with django_assert_max_num_queries(8):
        response = phone.get("/api/field/tasks/")
    assert response.status_code == 200
    row = response.json()["results"][0]
    assert row["id"] == task.pk and row["enterprise"]["name"] == task.enterprise.name
    assert [item["text"] for item in row["checklist"]] == [item.text for item in checklist(task)]
    assert row["officers"][0]["id"] == inspector.pk


def test_the_same_key_from_the_page_with_other_content_is_a_conflict(task, inspector, partner):  # noqa: F811
    from common.errors import StateConflict

    key = uuid.uuid4()
    items = [(item.pk, ItemOutcome.CONFORMING, "") for item in checklist(task)]
    base = {"task": task, "submitted_by": inspector, "submission_key": key, "co_inspector": partner, "checked_on": TEST_TODAY}
    check_result_submit(**base, conclusion=Conclusion.CONFORMING, items=items)
    with pytest.raises(StateConflict):
        check_result_submit(**base, conclusion=Conclusion.CONFORMING, items=items, note="另一份")
    assert CheckResult.objects.get().note == ""


def test_the_digest_ignores_order_and_spacing_but_not_content():
    common = {"conclusion": "conforming", "co_inspector": 3, "checked_on": TEST_TODAY, "lat": None, "lon": None}
    common |= {"accuracy": None, "position_source": "", "photos": []}
    one = submission_digest(items=[(1, "conforming", ""), (2, "na", "x ")], note="ok", **common)
    same = submission_digest(items=[(2, "na", "x"), (1, "conforming", "")], note=" ok", **common)
    other = submission_digest(items=[(2, "na", "y"), (1, "conforming", "")], note="ok", **common)
    assert one == same != other


def test_outside_the_jurisdiction_a_task_is_not_found_and_strangers_are_refused(task, partner, outsider, colleague):  # noqa: F811
    body = check_body(task, partner, key=uuid.uuid4())
    stranger = APIClient()
    stranger.force_authenticate(outsider)
    response = send_check(stranger, body)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert stranger.get("/api/field/tasks/").json()["results"] == []
    assert APIClient().post("/api/field/checks/", body, format="json").status_code in (401, 403)
    assert not CheckResult.objects.exists() and not HeldCheck.objects.exists()


def test_an_inspector_lists_only_their_own_tasks(task, colleague):  # noqa: F811
    client = APIClient()
    client.force_authenticate(colleague)
    assert client.get("/api/field/tasks/").json()["results"] == []
