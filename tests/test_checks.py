"""The inspector's check result: stored exactly once per task, validated beside each field, fed back at once."""

import datetime as dt
import io
import threading
import uuid

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from PIL import Image

from enterprises.models import RiskClass, RiskEvent, RiskEventKind
from inspections.fieldwork.services import MAX_LONG_SIDE, check_result_submit, photo_prepare, result_number
from inspections.models import (
    CheckItemResult,
    CheckPhoto,
    CheckResult,
    Conclusion,
    DrawArm,
    InspectionTask,
    ItemOutcome,
    ResultSource,
    SpotCheckResult,
    TaskAssignment,
    TaskKind,
    TaskStatus,
)
from inspections.rectification import services as rectification
from products.models import ChecklistItem
from regions.models import Role

from .clock import SHANGHAI, TEST_TODAY
from .factories import EnterpriseFactory, EnterpriseProductFactory, ProductFactory, StaffProfileFactory, UserFactory
from .services import require_postgres

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

TODAY = TEST_TODAY
CHECK_POINTS = ["标志标识是否齐全", "生产许可证是否在有效期内", "原材料进货查验记录是否完整"]


@pytest.fixture(autouse=True)
def frozen_day(time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI))


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def hooks(monkeypatch):
    """Spies on the rectification hooks (their effects are tested in test_rectification.py): who was called with what."""
    calls: dict[str, list[int]] = {"order_open": [], "reinspection_recorded": []}
    for name in calls:
        real = getattr(rectification, name)

        def spy(*, result, _real=real, _name=name, **kwargs):
            calls[_name].append(result.pk)
            return _real(result=result, **kwargs)

        monkeypatch.setattr(rectification, name, spy)
    return calls


@pytest.fixture
def feedback(monkeypatch):
    """The enterprises whose re-classing was queued."""
    queued: list[int] = []
    monkeypatch.setattr("jiaxing_qs.tasks.enqueue_feedback", queued.append)
    return queued


@pytest.fixture
def partner(county):
    user = UserFactory(username="partner", first_name="李", last_name="")
    return StaffProfileFactory(user=user, role=Role.INSPECTOR, jurisdiction=county).user


@pytest.fixture
def colleague(county):
    """An inspector of the same county who is not assigned to the task."""
    return StaffProfileFactory(user=UserFactory(username="colleague"), role=Role.INSPECTOR, jurisdiction=county).user


@pytest.fixture
def product(db):
    product = ProductFactory(name="皮革服装")
    ChecklistItem.objects.bulk_create([ChecklistItem(product=product, order=n, text=text) for n, text in enumerate(CHECK_POINTS, 1)])
    return product


def make_task(*, town, product, officers, due_date=TODAY + dt.timedelta(days=10), **fields) -> InspectionTask:
    enterprise = fields.pop("enterprise", None) or EnterpriseFactory(town=town, name=fields.pop("name", "海宁某某皮革有限公司"))
    EnterpriseProductFactory(enterprise=enterprise, product=product)
    task = InspectionTask.objects.create(
        enterprise=enterprise, product=product, arm=DrawArm.RISK, reason="风险分层抽取", due_date=due_date, **fields
    )
    TaskAssignment.objects.bulk_create([TaskAssignment(task=task, officer=o, position=n) for n, o in enumerate(officers, 1)])
    return task


@pytest.fixture
def task(town, product, inspector, partner) -> InspectionTask:
    return make_task(town=town, product=product, officers=[inspector, partner])


@pytest.fixture
def inspector_client(client, inspector):
    client.force_login(inspector)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def checklist(task) -> list[ChecklistItem]:
    return list(task.product.checklist_items.order_by("order"))


def answers(task, outcomes=None, notes=None) -> list[tuple[int, str, str]]:
    items = checklist(task)
    outcomes = outcomes or [ItemOutcome.CONFORMING] * len(items)
    notes = notes or {}
    return [(item.pk, outcome, notes.get(n, "")) for n, (item, outcome) in enumerate(zip(items, outcomes))]


def submit(task, officer, co_inspector, *, key=None, conclusion=Conclusion.CONFORMING, items=None, **extra):
    return check_result_submit(
        task=task,
        submitted_by=officer,
        submission_key=key or uuid.uuid4(),
        conclusion=conclusion,
        items=answers(task) if items is None else items,
        co_inspector=co_inspector,
        checked_on=TODAY,
        **extra,
    )


def form_data(task, co_inspector, *, key=None, outcomes=None, notes=None, conclusion="conforming", skip=(), **extra) -> dict:
    data = {
        "submission_key": str(key or uuid.uuid4()),
        "checked_on": TODAY.isoformat(),
        "co_inspector": co_inspector.pk,
        "conclusion": conclusion,
        "note": "",
    }
    for item_id, outcome, note in answers(task, outcomes, notes):
        if item_id not in skip:
            data[f"item_{item_id}"] = outcome
        data[f"note_{item_id}"] = note
    return data | extra


def image_file(name="photo.png", size=(400, 300), fmt="PNG", exif=None) -> SimpleUploadedFile:
    image = Image.new("RGB", size, "white")
    for x in range(0, size[0], 50):  # some content, so the encoder has something to keep
        image.paste((x % 255, 80, 160), (x, 0, x + 25, size[1]))
    buffer = io.BytesIO()
    image.save(buffer, fmt, **({"exif": exif} if exif is not None else {}))
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=f"image/{fmt.lower()}")


def form_url(task) -> str:
    return f"/tasks/{task.pk}/check/"


# --- Exactly one result --------------------------------------------------------------------------------------


def test_the_same_submission_twice_stores_one_result_and_shows_the_same_confirmation(inspector_client, task, partner):
    data = form_data(task, partner)
    first = inspector_client.post(form_url(task), data, follow=True)
    second = inspector_client.post(form_url(task), data, follow=True)

    result = CheckResult.objects.get()
    assert first.redirect_chain == second.redirect_chain == [(f"/tasks/{task.pk}/done/", 302)]
    assert result.number in first.content.decode() and result.number in second.content.decode()
    assert result.number == f"JC-20261126-{task.pk:06d}"
    assert CheckItemResult.objects.count() == len(CHECK_POINTS)
    assert SpotCheckResult.objects.count() == 1


def test_the_service_returns_the_stored_result_for_a_repeated_key(task, inspector, partner, hooks, feedback):
    key = uuid.uuid4()
    result, created = submit(task, inspector, partner, key=key)
    again, created_again = submit(task, inspector, partner, key=key)
    assert (created, created_again) == (True, False)
    assert again.pk == result.pk
    assert feedback == [task.enterprise_id], "fed back once, by the submission that stored the result"


def test_a_different_key_after_submission_still_yields_one_result(inspector_client, client, task, inspector, partner):
    first_key = uuid.uuid4()
    inspector_client.post(form_url(task), form_data(task, partner, key=first_key))
    # The page reloaded (a new key), and the co-inspector submits from their own phone too.
    again = inspector_client.post(form_url(task), form_data(task, partner), follow=True)
    result, created = submit(task, partner, inspector)

    assert CheckResult.objects.count() == 1
    assert created is False and result.submission_key == first_key
    assert again.redirect_chain[-1][0] == f"/tasks/{task.pk}/done/"
    assert result.number in again.content.decode()


def test_the_form_of_a_submitted_task_opens_its_confirmation(inspector_client, task, inspector, partner):
    submit(task, inspector, partner)
    response = inspector_client.get(form_url(task))
    assert response.status_code == 302 and response.url == f"/tasks/{task.pk}/done/"


def test_a_request_that_loses_the_race_reads_the_winners_result(task, inspector, partner, monkeypatch):
    """The first request committed after the second read (nothing stored yet): the unique constraint decides."""
    winner, _ = submit(task, inspector, partner)
    task.refresh_from_db()
    task.status = TaskStatus.ASSIGNED  # as the loser saw it when it started
    task.save(update_fields=["status"])
    from inspections.fieldwork import services as checks

    real, reads = checks._stored_result, []

    def stale(task, key):  # the loser's first two reads happened before the winner's commit
        reads.append(key)
        return None if len(reads) <= 2 else real(task, key)

    monkeypatch.setattr(checks, "_stored_result", stale)
    result, created = submit(task, partner, inspector)
    assert len(reads) == 3, "the insert failed on the unique constraint and the result was read again"
    assert created is False and result.pk == winner.pk
    assert CheckResult.objects.count() == 1 and SpotCheckResult.objects.count() == 1


def test_a_key_spent_on_another_task_is_refused(town, product, task, inspector, partner):
    other = make_task(town=town, product=product, officers=[inspector, partner], name="桐乡某某毛衫有限公司")
    key = uuid.uuid4()
    submit(task, inspector, partner, key=key)
    with pytest.raises(ValidationError, match="already used for another task"):
        submit(other, inspector, partner, key=key)
    assert not CheckResult.objects.filter(task=other).exists()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_simultaneous_submissions_store_one_result_on_postgresql(town, product, inspector, partner, feedback):
    require_postgres()
    task = make_task(town=town, product=product, officers=[inspector, partner])
    key = uuid.uuid4()
    start = threading.Barrier(4)
    outcomes, errors = [], []

    def tap(officer, co_inspector, submission_key):
        try:
            start.wait()
            outcomes.append(submit(task, officer, co_inspector, key=submission_key)[1])
        except Exception as error:  # collected and asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=tap, args=args)
        for args in [
            (inspector, partner, key),
            (inspector, partner, key),
            (inspector, partner, uuid.uuid4()),
            (partner, inspector, uuid.uuid4()),
        ]
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(outcomes) == [False, False, False, True]
    assert CheckResult.objects.count() == 1 and SpotCheckResult.objects.count() == 1


# --- Who may submit -------------------------------------------------------------------------------------------


def test_an_officer_not_assigned_to_the_task_is_refused(client, task, colleague, partner):
    client.force_login(colleague)
    assert client.get(form_url(task)).status_code == 403
    assert client.post(form_url(task), form_data(task, partner)).status_code == 403
    with pytest.raises(PermissionDenied):
        submit(task, colleague, partner)
    assert not CheckResult.objects.exists()


def test_a_supervisor_may_view_the_task_but_not_submit_it(client, task, supervisor, partner):
    client.force_login(supervisor)
    assert client.get(f"/tasks/{task.pk}/").status_code == 200
    assert client.post(form_url(task), form_data(task, partner)).status_code == 403


def test_a_task_outside_the_jurisdiction_is_not_found(client, task, outsider, inspector, partner):
    client.force_login(outsider)
    for url in (f"/tasks/{task.pk}/", form_url(task), f"/tasks/{task.pk}/done/"):
        assert client.get(url).status_code == 404, url
    assert client.post(form_url(task), form_data(task, partner)).status_code == 404


def test_the_co_inspector_must_be_the_other_assigned_officer(task, inspector, colleague):
    with pytest.raises(ValidationError) as yourself:
        submit(task, inspector, inspector)
    with pytest.raises(ValidationError) as stranger:
        submit(task, inspector, colleague)
    assert "co_inspector" in yourself.value.message_dict and "co_inspector" in stranger.value.message_dict
    assert not CheckResult.objects.exists()


# --- Validation beside the fields, nothing lost ------------------------------------------------------------------


def test_a_missing_answer_is_shown_beside_its_check_point_and_nothing_is_stored(inspector_client, task, partner):
    second = checklist(task)[1]
    key = uuid.uuid4()
    response = inspector_client.post(
        form_url(task), form_data(task, partner, key=key, skip=[second.pk], notes={2: "进货台账齐全"}, note="现场检查")
    )

    assert response.status_code == 422
    html = response.content.decode()
    item_block = html.split(f'id="item-{second.pk}"')[1].split("</fieldset>")[0]
    assert "Answer this check point." in item_block
    assert 'value="进货台账齐全"' in html and "现场检查" in html, "what was typed is kept"
    assert f'value="{key}"' in html, "the same key goes back, so a resubmission is still the same submission"
    assert not CheckResult.objects.exists() and not SpotCheckResult.objects.exists()


def test_a_nonconforming_answer_without_a_note_is_refused(inspector_client, task, partner):
    outcomes = [ItemOutcome.NONCONFORMING, ItemOutcome.CONFORMING, ItemOutcome.NOT_APPLICABLE]
    response = inspector_client.post(form_url(task), form_data(task, partner, outcomes=outcomes, conclusion="nonconforming"))

    assert response.status_code == 422
    first = checklist(task)[0]
    assert "Say what does not conform." in response.content.decode().split(f'id="item-{first.pk}"')[1].split("</fieldset>")[0]
    assert not CheckResult.objects.exists()


def test_a_conclusion_that_disagrees_with_the_check_points_needs_a_note(task, inspector, partner, hooks, feedback):
    outcomes = [ItemOutcome.NONCONFORMING, ItemOutcome.CONFORMING, ItemOutcome.CONFORMING]
    items = answers(task, outcomes, {0: "标签缺少厂址"})
    with pytest.raises(ValidationError) as error:
        submit(task, inspector, partner, items=items, conclusion=Conclusion.CONFORMING)
    assert "note" in error.value.message_dict

    result, created = submit(task, inspector, partner, items=items, conclusion=Conclusion.CONFORMING, note="标签当场改正")
    assert created and result.conclusion == Conclusion.CONFORMING


def test_every_check_point_is_answered_exactly_once(task, inspector, partner):
    first, second, third = checklist(task)
    twice = [(first.pk, "conforming", ""), (first.pk, "conforming", ""), (second.pk, "conforming", ""), (third.pk, "na", "")]
    with pytest.raises(ValidationError) as error:
        submit(task, inspector, partner, items=twice)
    assert f"item_{first.pk}" in error.value.message_dict
    with pytest.raises(ValidationError) as missing:
        submit(task, inspector, partner, items=twice[2:])
    assert f"item_{first.pk}" in missing.value.message_dict


def test_the_date_of_the_check_cannot_be_in_the_future(task, inspector, partner):
    with pytest.raises(ValidationError) as error:
        check_result_submit(
            task=task,
            submitted_by=inspector,
            submission_key=uuid.uuid4(),
            conclusion=Conclusion.CONFORMING,
            items=answers(task),
            co_inspector=partner,
            checked_on=TODAY + dt.timedelta(days=1),
        )
    assert "checked_on" in error.value.message_dict


# --- Photos ---------------------------------------------------------------------------------------------------


def test_a_text_file_named_like_a_photo_is_refused_and_the_officer_told_to_reselect(inspector_client, task, partner):
    fake = SimpleUploadedFile("IMG_0001.jpg", b"this is a shopping list, not a photo", content_type="image/jpeg")
    response = inspector_client.post(form_url(task), form_data(task, partner) | {"photos": [image_file(), fake]})

    assert response.status_code == 422
    html = response.content.decode()
    assert "IMG_0001.jpg" in html and "not a JPEG, PNG or WebP image" in html
    assert "select them again" in html
    assert not CheckResult.objects.exists() and not CheckPhoto.objects.exists()


def test_a_big_png_is_stored_as_a_jpeg_no_longer_than_1600_px(inspector_client, task, partner):
    response = inspector_client.post(form_url(task), form_data(task, partner) | {"photos": [image_file("big.png", (4000, 3000))]})
    assert response.status_code == 302

    photo = CheckPhoto.objects.get()
    with Image.open(photo.image.path) as stored:
        assert stored.format == "JPEG"
        assert stored.size == (1600, 1200) == (photo.width, photo.height)
    assert photo.result.number in photo.image.name


def test_a_phone_photo_is_turned_upright_and_its_exif_dropped(task):
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: the camera was turned 90°
    exif[0x010F] = "PhoneMaker"
    prepared = photo_prepare(image_file("IMG.jpg", (2400, 1200), "JPEG", exif=exif.tobytes()))
    with Image.open(io.BytesIO(prepared.content)) as stored:
        assert stored.size == (800, 1600) and max(stored.size) == MAX_LONG_SIDE
        assert len(stored.getexif()) == 0


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("huge.jpg", b"\xff\xd8" + b"0" * (10 * 1024 * 1024), content_type="image/jpeg"), "larger than 10 MB"),
        (SimpleUploadedFile("anim.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", content_type="image/gif"), "not a JPEG, PNG or WebP"),
    ],
)
def test_photos_over_10_mb_or_of_another_type_are_refused(upload, message):
    with pytest.raises(ValidationError, match=message):
        photo_prepare(upload)


def test_at_most_nine_photos(task, inspector, partner):
    with pytest.raises(ValidationError) as error:
        submit(task, inspector, partner, photos=[image_file(f"p{n}.png", (20, 20)) for n in range(10)])
    assert "photos" in error.value.message_dict
    assert not CheckResult.objects.exists()


# --- Feedback ----------------------------------------------------------------------------------------------------


def test_a_nonconforming_result_becomes_a_spot_check_and_a_risk_event(task, inspector, partner, hooks, feedback):
    outcomes = [ItemOutcome.CONFORMING, ItemOutcome.NONCONFORMING, ItemOutcome.NONCONFORMING]
    items = answers(task, outcomes, {1: "许可证已过期", 2: "无进货记录"})
    result, _created = submit(task, inspector, partner, items=items, conclusion=Conclusion.NONCONFORMING, lat=30.5, lon=120.6, accuracy=12)

    spot_check = SpotCheckResult.objects.get()
    assert spot_check == result.spot_check
    assert (spot_check.source, spot_check.conforming, spot_check.lab_report_number) == (ResultSource.INSPECTION, False, result.number)
    assert spot_check.failed_items == f"{CHECK_POINTS[1]}；{CHECK_POINTS[2]}"
    event = RiskEvent.objects.get(enterprise=task.enterprise)
    assert (event.kind, event.source_ref, event.occurred_on) == (RiskEventKind.NONCONFORMING_SPOT_CHECK, spot_check.risk_event_ref, TODAY)
    task.refresh_from_db()
    assert task.status == TaskStatus.SUBMITTED
    assert (result.lat, result.lon, result.position_accuracy, result.position_source) == (30.5, 120.6, 12, "manual")
    assert hooks == {"order_open": [result.pk], "reinspection_recorded": []}
    assert feedback == [task.enterprise_id]


def test_a_conforming_result_becomes_a_spot_check_without_risk_event_or_order(task, inspector, partner, hooks, feedback):
    submit(task, inspector, partner)
    assert SpotCheckResult.objects.get().conforming is True
    assert not RiskEvent.objects.exists()
    assert hooks == {"order_open": [], "reinspection_recorded": []}
    assert feedback == [task.enterprise_id]


def test_the_risk_event_is_the_one_the_pipeline_would_record(task, inspector, partner, hooks):
    from inspections.spotchecks.services import risk_events_record_from_spot_checks

    items = answers(task, [ItemOutcome.NONCONFORMING, ItemOutcome.CONFORMING, ItemOutcome.CONFORMING], {0: "无标志"})
    submit(task, inspector, partner, items=items, conclusion=Conclusion.NONCONFORMING)
    assert risk_events_record_from_spot_checks()["recorded"] == 0
    assert RiskEvent.objects.count() == 1


def test_a_reinspection_result_goes_to_its_order(task, inspector, partner, hooks, feedback):
    items = answers(task, [ItemOutcome.NONCONFORMING, ItemOutcome.CONFORMING, ItemOutcome.CONFORMING], {0: "无标志"})
    first, _ = submit(task, inspector, partner, items=items, conclusion=Conclusion.NONCONFORMING)
    reinspection = InspectionTask.objects.get(kind=TaskKind.REINSPECTION)

    second, created = submit(reinspection, inspector, partner)
    assert created
    assert hooks == {"order_open": [first.pk], "reinspection_recorded": [second.pk]}
    assert second.number != first.number


def test_the_enterprise_is_reclassed_once_the_result_commits(task, inspector, partner, django_capture_on_commit_callbacks):
    items = answers(task, [ItemOutcome.NONCONFORMING, ItemOutcome.CONFORMING, ItemOutcome.CONFORMING], {0: "无标志"})
    with django_capture_on_commit_callbacks(execute=True):
        submit(task, inspector, partner, items=items, conclusion=Conclusion.NONCONFORMING)
    task.enterprise.refresh_from_db()
    assert task.enterprise.risk_class == RiskClass.RISK


def test_result_numbers_name_the_day_and_the_task(task):
    assert result_number(task, dt.date(2026, 11, 26)) == f"JC-20261126-{task.pk:06d}"


# --- Pages ---------------------------------------------------------------------------------------------------------


def test_the_form_names_both_officers_with_a_fresh_key_each_time(inspector_client, task, partner):
    first = inspector_client.get(form_url(task))
    second = inspector_client.get(form_url(task))
    html = first.content.decode()
    assert first.status_code == 200
    assert f'<option value="{partner.pk}" selected>' in html, "the co-inspector is preselected from the assignment"
    for item in checklist(task):
        assert f'name="item_{item.pk}"' in html and f'name="note_{item.pk}"' in html
    keys = [response.content.decode().split('name="submission_key" id="id_submission_key" value="')[1][:36] for response in (first, second)]
    assert uuid.UUID(keys[0]) and keys[0] != keys[1]


def test_my_tasks_lists_open_tasks_overdue_first_then_by_due_date(inspector_client, town, product, inspector, partner):
    later = make_task(town=town, product=product, officers=[inspector, partner], name="乙", due_date=TODAY + dt.timedelta(days=20))
    overdue = make_task(town=town, product=product, officers=[inspector, partner], name="甲", due_date=TODAY - dt.timedelta(days=3))
    soon = make_task(town=town, product=product, officers=[inspector, partner], name="丙", due_date=TODAY + dt.timedelta(days=2))
    recheck = make_task(
        town=town,
        product=product,
        officers=[inspector, partner],
        name="丁",
        due_date=TODAY + dt.timedelta(days=5),
        kind=TaskKind.REINSPECTION,
    )
    done = make_task(town=town, product=product, officers=[inspector, partner], name="戊")
    submit(done, inspector, partner)
    make_task(town=town, product=product, officers=[partner, UserFactory()], name="己")  # not mine

    html = inspector_client.get("/tasks/").content.decode()
    positions = [html.index(f"/tasks/{task.pk}/") for task in (overdue, soon, recheck, later)]
    assert positions == sorted(positions)
    assert "戊" not in html and "己" not in html
    assert html.count("Overdue") == 1 and "Re-inspection" in html and "To check" in html

    submitted = inspector_client.get("/tasks/?show=submitted").content.decode()
    assert "戊" in submitted and done.result.number in submitted


def test_the_task_page_shows_the_enterprise_its_history_and_the_co_inspector(inspector_client, task, partner):
    SpotCheckResult.objects.create(
        enterprise=task.enterprise, product=task.product, checked_on=dt.date(2025, 3, 1), conforming=False, lab_report_number="JX2025-0001"
    )
    html = inspector_client.get(f"/tasks/{task.pk}/").content.decode()
    assert task.enterprise.name in html and "李" in html and "2025-03-01" in html
    assert f"/tasks/{task.pk}/check/" in html


def test_the_my_tasks_page_reads_a_fixed_number_of_queries(
    inspector_client, town, product, inspector, partner, django_assert_max_num_queries
):
    make_task(town=town, product=product, officers=[inspector, partner], name="一")
    with django_assert_max_num_queries(9) as few:
        assert inspector_client.get("/tasks/").status_code == 200
    for n in range(25):
        make_task(town=town, product=product, officers=[inspector, partner], name=f"企业{n}", due_date=TODAY + dt.timedelta(days=n))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert inspector_client.get("/tasks/").status_code == 200
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert inspector_client.get("/tasks/?show=submitted").status_code == 200


def test_the_page_names_every_problem_in_one_round(inspector_client, task, partner):
    """A bad photo and a non-conforming point without its note, and the conclusion's missing reason: all at once."""
    items = checklist(task)
    data = form_data(task, partner, outcomes=[ItemOutcome.NONCONFORMING] + [ItemOutcome.CONFORMING] * (len(items) - 1))
    data["photos"] = SimpleUploadedFile("notes.jpg", b"not a photo", content_type="image/jpeg")
    response = inspector_client.post(form_url(task), data)
    assert response.status_code == 422
    form = response.context["form"]
    assert set(form.errors) >= {"photos", f"note_{items[0].pk}", "note"}
    banner = response.content.decode().split('class="error error-summary"')[1].split("</div>")[0]
    assert "Photos" in banner and "Note" in banner
    assert not CheckResult.objects.exists()
