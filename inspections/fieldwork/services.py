"""The inspector's check result (检查反馈): submitted once per task, whatever the network does.

A phone on a weak network retries, and people tap twice. Every submission therefore carries a key the
form generated (``submission_key``, unique in the database): the same key returns the stored result, and
so does any other key once the task has its result — a task never gets a second one. Two requests racing
each other are serialised by a row lock on the task (PostgreSQL) or by SQLite's one writer at a time (its
transactions begin immediate, jiaxing_qs/settings.py), and where that cannot help (a first request still
committing) the unique constraints decide and the loser reads the winner's result.

Rule on the conclusion: the result is non-conforming exactly when a check point is non-conforming. An
officer may conclude otherwise (a point fixed on the spot; a defect no check point names) only by giving
the reason in the result's note, so the disagreement is on record.

A stored result feeds back at once, in the same transaction: a spot-check result (source "inspection",
its test report number the result's number), a risk event for a non-conforming result, the rectification
order of SAMR Order 18 (inspections.rectification) — and, on commit, the enterprise is re-classed and its
regions re-coloured (common.signals.enterprise_outcome_recorded, which jiaxing_qs connects to its feedback task).
"""

import datetime as dt
import hashlib
import io
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from common.errors import StateConflict
from common.signals import enterprise_outcome_recorded
from enterprises.models import RiskEvent, RiskEventKind
from regions.models import Level

from ..models import (
    CheckItemResult,
    CheckPhoto,
    CheckResult,
    Conclusion,
    FieldPhoto,
    HeldCheck,
    InspectionTask,
    ItemOutcome,
    ResultSource,
    SpotCheckLevel,
    SpotCheckResult,
    TaskAssignment,
    TaskKind,
    TaskStatus,
)
from ..rectification import services as rectification

MAX_PHOTOS = 9
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_LONG_SIDE = 1600
JPEG_QUALITY = 85
PHOTO_FORMATS = {"JPEG", "PNG", "WEBP"}
# PNG and WebP are decoded whole (JPEG is decoded scaled down): cap their pixels so a small file cannot
# expand into gigabytes of memory.
MAX_DECODED_PIXELS = 40_000_000
POSITION_SOURCES = ("gps", "manual")


def item_field(item_id: int) -> str:
    """The name under which an answer's errors are reported (and the check form names its field)."""
    return f"item_{item_id}"


def note_field(item_id: int) -> str:
    return f"note_{item_id}"


# --- Photos ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedPhoto:
    """A photo checked and re-encoded for storage: JPEG, long side ≤ MAX_LONG_SIDE, no EXIF."""

    name: str
    content: bytes
    width: int
    height: int


def _photo_error(name: str, problem: str) -> ValidationError:
    return ValidationError(_("Photo %(name)s: %(problem)s") % {"name": name, "problem": problem}, code="photo")


def _flatten_alpha(image: Image.Image) -> Image.Image:
    """JPEG has no transparency: put transparent pixels on white rather than on black."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def photo_prepare(upload) -> PreparedPhoto:
    """Check one uploaded photo by its content (JPEG, PNG or WebP, at most 10 MB) and re-encode it.

    The file's name and declared type are not trusted: Pillow must recognise the bytes. The photo is turned
    upright by its EXIF orientation, shrunk so its long side is at most 1600 px and saved as JPEG quality 85
    without EXIF (which can carry the phone's identity and the officer's home position).
    """
    name = getattr(upload, "name", None) or _("(unnamed)")
    if isinstance(upload, bytes | bytearray):
        upload = io.BytesIO(upload)
    size = getattr(upload, "size", None)
    if size is None:
        size = upload.seek(0, io.SEEK_END)
    if size > MAX_PHOTO_BYTES:
        raise _photo_error(name, _("larger than %(mb)d MB.") % {"mb": MAX_PHOTO_BYTES // (1024 * 1024)})
    upload.seek(0)
    try:
        with Image.open(upload) as image:
            if image.format not in PHOTO_FORMATS:
                raise _photo_error(name, _("not a JPEG, PNG or WebP image."))
            if image.format != "JPEG" and image.width * image.height > MAX_DECODED_PIXELS:
                raise _photo_error(name, _("too many pixels."))
            image.draft("RGB", (MAX_LONG_SIDE, MAX_LONG_SIDE))  # JPEG: decode at a reduced scale, fast and small
            upright = ImageOps.exif_transpose(image)
            photo = _flatten_alpha(upright)
            photo.thumbnail((MAX_LONG_SIDE, MAX_LONG_SIDE), Image.Resampling.LANCZOS)
            out = io.BytesIO()
            photo.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    except ValidationError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as error:
        raise _photo_error(name, _("not a JPEG, PNG or WebP image.")) from error
    finally:
        upload.seek(0)
    return PreparedPhoto(name=str(name), content=out.getvalue(), width=photo.width, height=photo.height)


def photos_prepare(uploads: Sequence) -> list[PreparedPhoto]:
    """Prepare every photo; all problems are reported together (at most 9 photos)."""
    if len(uploads) > MAX_PHOTOS:
        raise ValidationError(_("At most %(max)d photos.") % {"max": MAX_PHOTOS}, code="too_many_photos")
    prepared, problems = [], []
    for upload in uploads:
        if isinstance(upload, PreparedPhoto):
            prepared.append(upload)
            continue
        try:
            prepared.append(photo_prepare(upload))
        except ValidationError as error:
            problems.extend(error.error_list)
    if problems:
        raise ValidationError(problems)
    return prepared


# --- Validation ----------------------------------------------------------------------------------------------


class Problems:
    """Validation messages keyed the way the check form names its fields."""

    def __init__(self):
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def raise_any(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)


def _check_officers(task: InspectionTask, submitted_by, co_inspector) -> None:
    """Both officers named on a result are assigned to its task (at least two officers, 行政处罚法 Art. 42)."""
    assigned = set(TaskAssignment.objects.filter(task=task).values_list("officer_id", flat=True))
    if submitted_by.pk not in assigned:
        raise PermissionDenied(_("Only the officers assigned to this task can submit its result."))
    problems = Problems()
    if co_inspector is None:
        problems.add("co_inspector", _("Name the officer who inspected with you."))
    elif co_inspector.pk == submitted_by.pk:
        problems.add("co_inspector", _("The co-inspector must be the other officer, not yourself."))
    elif co_inspector.pk not in assigned:
        problems.add("co_inspector", _("%(name)s is not assigned to this task.") % {"name": co_inspector.get_full_name() or co_inspector})
    problems.raise_any()


def _check_answers(task: InspectionTask, items: Iterable[tuple[int, str, str]], conclusion: str, note: str, problems: Problems):
    """Every check point of the task's product answered exactly once; a non-conforming answer says why.

    Returns the answers as (checklist item, outcome, note) in checklist order.
    """
    checklist = {item.pk: item for item in task.product.checklist_items.order_by("order")} if task.product_id else {}
    answers: dict[int, tuple[str, str]] = {}
    for item_id, outcome, item_note in items:
        item_note = (item_note or "").strip()
        if item_id not in checklist:
            problems.add(NON_FIELD_ERRORS, _("Check point %(id)s is not on this product's checklist.") % {"id": item_id})
        elif item_id in answers:
            problems.add(item_field(item_id), _("This check point was answered twice."))
        elif outcome not in ItemOutcome.values:
            problems.add(item_field(item_id), _("Choose conforming, non-conforming or not applicable."))
        else:
            answers[item_id] = (outcome, item_note)
            if outcome == ItemOutcome.NONCONFORMING and not item_note:
                problems.add(note_field(item_id), _("Say what does not conform."))
            if len(item_note) > 500:
                problems.add(note_field(item_id), _("At most 500 characters."))
    for item_id in checklist.keys() - answers.keys():
        if item_field(item_id) not in problems.errors:
            problems.add(item_field(item_id), _("Answer this check point."))
    if conclusion not in Conclusion.values:
        problems.add("conclusion", _("Choose the conclusion."))
    else:
        any_failed = any(outcome == ItemOutcome.NONCONFORMING for outcome, _note in answers.values())
        if any_failed != (conclusion == Conclusion.NONCONFORMING) and not note.strip():
            problems.add(
                "note",
                _("The conclusion differs from the check points: say why in this note.")
                if any_failed
                else _("A non-conforming conclusion with every check point conforming: say what does not conform in this note."),
            )
    return [(checklist[item_id], *answers[item_id]) for item_id in checklist if item_id in answers]


def check_answer_problems(task: InspectionTask, items: Iterable[tuple[int, str, str]], conclusion: str, note: str) -> dict[str, list[str]]:
    """The answer rules' messages for a form that has other errors too, so the page shows them all in one round."""
    problems = Problems()
    _check_answers(task, items, conclusion, note, problems)
    return problems.errors


def _check_context(task: InspectionTask, checked_on, lat, lon, accuracy, position_source: str, problems: Problems) -> None:
    if task.status != TaskStatus.ASSIGNED:
        problems.add(NON_FIELD_ERRORS, _("This task cannot take a result: it is %(status)s.") % {"status": task.get_status_display()})
    if not task.product_id:
        problems.add(NON_FIELD_ERRORS, _("This task names no product to check: ask the supervisor to set one."))
    if checked_on is None:
        problems.add("checked_on", _("Give the date of the check."))
    elif checked_on > timezone.localdate():
        problems.add("checked_on", _("The date of the check cannot be in the future."))
    if (lat is None) != (lon is None):
        problems.add(NON_FIELD_ERRORS, _("A position needs both latitude and longitude."))
    elif lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
        problems.add(NON_FIELD_ERRORS, _("The position is not a valid latitude and longitude."))
    if accuracy is not None and accuracy < 0:
        problems.add(NON_FIELD_ERRORS, _("The position's accuracy cannot be negative."))
    if position_source and position_source not in POSITION_SOURCES:
        problems.add(NON_FIELD_ERRORS, _("Unknown position source."))


# --- Submission ----------------------------------------------------------------------------------------------


def photo_digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def submission_digest(
    *, conclusion, items, co_inspector, checked_on, lat, lon, accuracy, position_source, note, photos: Sequence[PreparedPhoto]
) -> str:
    """SHA-256 of a submission's canonical content: what a repeated key must match to be the same check.

    Answers are sorted by check point, notes stripped, photos named by the digest of their stored (re-encoded)
    bytes in order of those digests, so the same check sent again — from the page or the phone's outbox —
    digests the same; any changed answer, note, officer, date, position or photo does not.
    """
    canonical = {
        "conclusion": conclusion,
        "items": sorted([int(item_id), outcome, (item_note or "").strip()] for item_id, outcome, item_note in items),
        "co_inspector": getattr(co_inspector, "pk", co_inspector),
        "checked_on": checked_on.isoformat() if checked_on else None,
        "position": [lat, lon, accuracy, position_source or ""],
        "note": (note or "").strip(),
        "photos": sorted(photo_digest(photo.content) for photo in photos),
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _same_submission(stored: CheckResult, submission_key: uuid.UUID, digest: str) -> CheckResult:
    """The stored result a repeat gets back — unless the repeat re-uses the key with other content."""
    if str(stored.submission_key) == str(submission_key) and stored.submission_digest and stored.submission_digest != digest:
        raise StateConflict(
            _("This submission was already stored as result %(number)s with other content: nothing was overwritten.")
            % {"number": stored.number},
            code="key_reused",
        )
    return stored


def _stored_result(task: InspectionTask, submission_key: uuid.UUID) -> CheckResult | None:
    """The result already stored under this key, or for this task under any key."""
    found = list(CheckResult.objects.filter(models.Q(submission_key=submission_key) | models.Q(task=task))[:2])
    mine = next((result for result in found if result.task_id == task.pk), None)
    if mine is None and found:
        # The key was spent on another task: a client bug, never a reason to attach this report to that task.
        raise ValidationError({NON_FIELD_ERRORS: [_("This form was already used for another task: reload it.")]})
    return mine


def result_number(task: InspectionTask, checked_on: dt.date) -> str:
    """JC-<date of the check>-<task id>: unique because a task has at most one result."""
    return f"JC-{checked_on:%Y%m%d}-{task.pk:06d}"


LEVEL_OF_SCOPE = {Level.PROVINCE: SpotCheckLevel.PROVINCIAL, Level.CITY: SpotCheckLevel.CITY, Level.COUNTY: SpotCheckLevel.COUNTY}


def _spot_check_level(task: InspectionTask) -> str:
    if task.plan_id:
        return LEVEL_OF_SCOPE.get(task.plan.scope.level, SpotCheckLevel.CITY)
    return SpotCheckLevel.CITY


def _record_spot_check(task: InspectionTask, result: CheckResult, answers) -> SpotCheckResult:
    """The result as a spot-check result, so it counts in failure rates, classing, colours and the index."""
    failed = "；".join(item.text for item, outcome, _note in answers if outcome == ItemOutcome.NONCONFORMING)
    conforming = result.conclusion == Conclusion.CONFORMING
    spot_check = SpotCheckResult.objects.create(
        enterprise=task.enterprise,
        product=task.product,
        checked_on=result.checked_on,
        conforming=conforming,
        lab_report_number=result.number,
        level=_spot_check_level(task),
        failed_items=(failed or ("" if conforming else result.note))[:500],
        source=ResultSource.INSPECTION,
        is_demo=task.enterprise.is_demo,
    )
    if not conforming:
        # The same event risk_events_record_from_spot_checks would write later: recorded now so the enterprise
        # is a risk enterprise from this commit on; the unique source reference makes the two meet, not double.
        RiskEvent.objects.get_or_create(
            enterprise=task.enterprise,
            kind=RiskEventKind.NONCONFORMING_SPOT_CHECK,
            source_ref=spot_check.risk_event_ref,
            defaults={
                "occurred_on": spot_check.checked_on,
                "product": task.product,
                "description": spot_check.failed_items,
                "is_demo": spot_check.is_demo,
            },
        )
    return spot_check


def _store(
    task, *, submitted_by, submission_key, digest, conclusion, answers, co_inspector, checked_on, position, note, photos
) -> CheckResult:
    lat, lon, accuracy, position_source = position
    result = CheckResult(
        task=task,
        submission_key=submission_key,
        submission_digest=digest,
        number=result_number(task, checked_on),
        conclusion=conclusion,
        submitted_by=submitted_by,
        co_inspector=co_inspector,
        checked_on=checked_on,
        lat=lat,
        lon=lon,
        position_accuracy=accuracy,
        position_source=position_source or ("manual" if lat is not None else ""),
        note=note.strip(),
    )
    result.spot_check = _record_spot_check(task, result, answers)
    result.save()
    CheckItemResult.objects.bulk_create(
        [CheckItemResult(result=result, checklist_item=item, outcome=outcome, note=item_note) for item, outcome, item_note in answers]
    )
    for position_in_list, photo in enumerate(photos, start=1):
        stored = CheckPhoto(result=result, width=photo.width, height=photo.height)
        stored.image.save(f"{result.number}-{position_in_list}.jpg", ContentFile(photo.content), save=True)
    task.status = TaskStatus.SUBMITTED
    task.save(update_fields=["status"])
    return result


def _feed_back(task: InspectionTask, result: CheckResult) -> None:
    """Rectification (SAMR Order 18) now, in this transaction; re-classing and re-colouring on commit."""
    if task.kind == TaskKind.REINSPECTION:
        rectification.reinspection_recorded(result=result)
    elif result.conclusion == Conclusion.NONCONFORMING:
        rectification.order_open(result=result)
    enterprise_outcome_recorded.send(sender=CheckResult, enterprise_id=task.enterprise_id)


def check_result_submit(
    *,
    task: InspectionTask,
    submitted_by,
    submission_key: uuid.UUID,
    conclusion: str,
    items: Iterable[tuple[int, str, str]],
    co_inspector,
    checked_on: dt.date,
    lat: float | None = None,
    lon: float | None = None,
    accuracy: float | None = None,
    position_source: str = "",
    note: str = "",
    photos: Sequence = (),
) -> tuple[CheckResult, bool]:
    """Store an inspector's result of a task once; returns (result, created).

    The same ``submission_key`` — or any key once the task has a result — returns the stored result with
    created=False. Raises PermissionDenied when ``submitted_by`` is not assigned to the task, and
    ValidationError keyed by the check form's field names (``item_<id>``, ``note_<id>``, ``conclusion``…).
    """
    _check_officers(task, submitted_by, co_inspector)
    items = list(items)
    problems = Problems()
    try:
        prepared = photos_prepare(photos)  # before the transaction: decoding photos must not hold the task's lock
    except ValidationError as error:
        prepared = []
        for message in error.messages:
            problems.add("photos", message)
    position = (lat, lon, accuracy, position_source)
    digest = submission_digest(
        conclusion=conclusion,
        items=items,
        co_inspector=co_inspector,
        checked_on=checked_on,
        lat=lat,
        lon=lon,
        accuracy=accuracy,
        position_source=position_source,
        note=note,
        photos=prepared,
    )
    stored = _stored_result(task, submission_key)
    if stored is not None:
        return _same_submission(stored, submission_key, digest), False
    try:
        with transaction.atomic():
            # Concurrent submissions of one task queue here (PostgreSQL); the second then finds the first's result.
            # of=self: PostgreSQL cannot lock the nullable side of the outer joins to product and plan.
            locked = InspectionTask.objects.select_for_update(of=("self",))
            task = locked.select_related("enterprise", "product", "plan__scope").get(pk=task.pk)
            stored = _stored_result(task, submission_key)
            if stored is not None:
                return _same_submission(stored, submission_key, digest), False
            _check_context(task, checked_on, lat, lon, accuracy, position_source, problems)
            answers = _check_answers(task, items, conclusion, note, problems) if task.product_id else []
            problems.raise_any()
            result = _store(
                task,
                submitted_by=submitted_by,
                submission_key=submission_key,
                digest=digest,
                conclusion=conclusion,
                answers=answers,
                co_inspector=co_inspector,
                checked_on=checked_on,
                position=position,
                note=note,
                photos=prepared,
            )
            _feed_back(task, result)
    except IntegrityError:
        # Another request stored this task's result (or spent this key) between our read and our insert.
        stored = _stored_result(task, submission_key)
        if stored is None:
            raise
        return _same_submission(stored, submission_key, digest), False
    return result, True


# --- The phone's outbox: photos first, one request each, then the check -------------------------------------


def field_photo_upload(*, officer, submission_key: uuid.UUID, photo_id: str, upload) -> tuple[FieldPhoto, bool]:
    """Keep one photo of a check still on its way (the phone sends each photo alone, then the check).

    Idempotent on (submission key, photo id): the same photo again returns the kept one (created=False); other
    bytes under the same id, or another officer's key, are a StateConflict. The photo is checked and
    re-encoded as on the check form (photo_prepare), so the stored bytes — and their digest — are the server's.
    """
    prepared = photo_prepare(upload)
    digest = photo_digest(prepared.content)
    kept = FieldPhoto.objects.filter(submission_key=submission_key, photo_id=photo_id).first()
    if kept is None:
        kept = FieldPhoto(submission_key=submission_key, photo_id=photo_id, officer=officer, width=prepared.width, height=prepared.height)
        kept.digest = digest
        kept.image.save(f"{submission_key}-{photo_id[:16]}.jpg", ContentFile(prepared.content), save=False)
        try:
            with transaction.atomic():
                kept.save()
            return kept, True
        except IntegrityError:  # the same photo, sent twice at once
            kept.image.delete(save=False)
            kept = FieldPhoto.objects.get(submission_key=submission_key, photo_id=photo_id)
    if kept.officer_id != officer.pk or kept.digest != digest:
        raise StateConflict(_("Another photo was already sent under this photo's id: nothing was overwritten."), code="photo_conflict")
    return kept, False


def _field_photos(officer, submission_key: uuid.UUID, photo_ids: Sequence[str]) -> list[FieldPhoto]:
    """The photos a check declares, all of which must have arrived (else the phone sends them and retries)."""
    kept = {
        photo.photo_id: photo for photo in FieldPhoto.objects.filter(submission_key=submission_key, officer=officer, photo_id__in=photo_ids)
    }
    missing = [photo_id for photo_id in photo_ids if photo_id not in kept]
    if missing:
        raise StateConflict(
            _("%(count)d of this check's photos have not arrived yet: send them first.") % {"count": len(missing)}, code="photos_missing"
        )
    return [kept[photo_id] for photo_id in photo_ids]


def _as_prepared(photo: FieldPhoto | CheckPhoto) -> PreparedPhoto:
    with photo.image.open("rb") as file:
        return PreparedPhoto(name=photo.image.name, content=file.read(), width=photo.width, height=photo.height)


def hold_reason(task: InspectionTask, officer) -> str:
    """Why a task can no longer take this officer's check, or "" when it can (or already has its result).

    A phone may have been offline for days: meanwhile the task was cancelled, or handed to other officers. The
    check is then not refused and lost but held (HeldCheck) for a supervisor to decide.
    """
    if task.status == TaskStatus.SUBMITTED:
        return ""  # the stored result answers (check_result_submit)
    if task.status == TaskStatus.CANCELLED:
        return _("The task was cancelled while you were offline.")
    if not TaskAssignment.objects.filter(task=task, officer=officer).exists() or task.status != TaskStatus.ASSIGNED:
        return _("The task was reassigned to other officers while you were offline.")
    if not task.product_id:
        return _("This task names no product to check: ask the supervisor to set one.")
    return ""


@dataclass(frozen=True)
class FieldOutcome:
    """What the phone is told: the stored result (created or repeated) or the HeldCheck keeping its work."""

    result: CheckResult | None = None
    created: bool = False
    held: HeldCheck | None = None


def _hold(task, officer, submission_key, digest, payload: dict, photos: list[FieldPhoto], reason: str) -> HeldCheck:
    try:
        with transaction.atomic():
            held = HeldCheck.objects.create(
                task=task, officer=officer, submission_key=submission_key, submission_digest=digest, payload=payload, reason=reason
            )
            FieldPhoto.objects.filter(pk__in=[photo.pk for photo in photos]).update(held=held)
    except IntegrityError:  # the same check, sent twice at once
        held = HeldCheck.objects.get(submission_key=submission_key)
    return held


def _same_held(held: HeldCheck, digest: str) -> HeldCheck:
    if held.submission_digest != digest:
        raise StateConflict(_("This submission was already held with other content: nothing was overwritten."), code="key_reused")
    return held


def field_check_submit(
    *, task: InspectionTask, officer, submission_key: uuid.UUID, payload: dict, photo_ids: Sequence[str]
) -> FieldOutcome:
    """A check from the phone's outbox, after its photos (field_photo_upload): stored once, or held.

    ``payload`` holds check_result_submit's keyword arguments as JSON values (co_inspector an id, checked_on
    ISO) and is what a HeldCheck keeps. The same key and content returns the same outcome however often it is
    sent; the same key with other content is a StateConflict (``key_reused``); a task that can no longer take
    the check (hold_reason) holds it with its photos.
    """
    stored = CheckResult.objects.filter(submission_key=submission_key).first()
    if stored is not None:  # sent again (its answer was lost): its photos are the result's now
        photos, prepared = [], [_as_prepared(photo) for photo in stored.photos.order_by("pk")]
    else:
        photos = _field_photos(officer, submission_key, photo_ids)
        prepared = [_as_prepared(photo) for photo in photos]
    arguments = _submission_arguments(payload)
    digest = submission_digest(**arguments, photos=prepared)
    held = HeldCheck.objects.filter(submission_key=submission_key).first()
    if held is not None:
        return FieldOutcome(held=_same_held(held, digest))
    reason = hold_reason(task, officer)
    if reason:
        return FieldOutcome(held=_hold(task, officer, submission_key, digest, payload | {"photos": list(photo_ids)}, photos, reason))
    result, created = check_result_submit(task=task, submitted_by=officer, submission_key=submission_key, photos=prepared, **arguments)
    if str(result.submission_key) == str(submission_key):
        for photo in photos:  # now CheckPhotos of the result
            photo.image.delete(save=False)
            photo.delete()
    return FieldOutcome(result=result, created=created)


def _submission_arguments(payload: dict) -> dict:
    co_inspector = payload.get("co_inspector")
    return {
        "conclusion": payload["conclusion"],
        "items": [(item["item"], item["outcome"], item.get("note", "")) for item in payload["items"]],
        "co_inspector": get_user_model().objects.filter(pk=co_inspector).first() if co_inspector else None,
        "checked_on": dt.date.fromisoformat(payload["checked_on"]) if payload.get("checked_on") else None,
        "lat": payload.get("lat"),
        "lon": payload.get("lon"),
        "accuracy": payload.get("accuracy"),
        "position_source": payload.get("position_source") or "",
        "note": payload.get("note", ""),
    }


# --- Reads for the inspector's pages -------------------------------------------------------------------------
