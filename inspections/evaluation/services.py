import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common.signals import pipeline_inputs_changed
from enterprises.models import SupervisionPolicy
from regions.models import ColourThresholds

from .simulator import DRAFT_POLICY_FIELDS, THRESHOLD_FIELDS, draft_of


@transaction.atomic
def rules_adopt(*, thresholds: ColourThresholds, policy: SupervisionPolicy, created_by, reason: str, as_of: dt.date | None = None) -> list:
    """Adopt a simulated draft: a new version, in force from now, of each rule the draft changes, recording who
    and why (rule versions are the audit trail); then the pipeline re-classes, re-colours and re-indexes under
    them once this commits. Returns the versions created."""

    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the rules change: the reason is kept with the new version.")})
    created = []
    for draft, names in ((thresholds, THRESHOLD_FIELDS), (policy, DRAFT_POLICY_FIELDS)):
        version = draft_of(type(draft).in_force(), {name: getattr(draft, name) for name in names})
        version.created_by, version.reason, version.valid_from = created_by, reason, timezone.now()
        if version.unchanged_problem() is not None:
            continue  # this rule is not changed by the draft
        version.full_clean()
        version.save()
        created.append(version)
    if not created:
        raise ValidationError(_("The draft is the same as the rules in force: there is nothing to adopt."))
    pipeline_inputs_changed.send(sender=SupervisionPolicy, as_of=as_of)
    return created
