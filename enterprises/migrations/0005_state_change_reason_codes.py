"""Class and category changes keep their reason in codes, shown in the reader's language.

Rows written before kept it as text in the site language (Chinese, or English on an English site): each is read
back with the labels as they were when this migration was written ("高风险 × 非风险企业" → "high × non_risk",
"监督抽查不合格 × 2" → "nonconforming × 2", "追溯期内无风险事件。 (2023-10-31 – 2026-10-31)" →
"no_risk_event 2023-10-31 2026-10-31"). A text that reads as none of them is kept as it is, and shown so.
"""

import re

from django.db import migrations
from django.utils import translation
from django.utils.translation import gettext

# The labels at this migration: products Grade, enterprises RiskClass and ReasonKind (English msgids).
GRADES = {"high": "high risk", "medium": "medium risk", "low": "low risk"}
CLASSES = {"risk": "risk enterprise", "non_risk": "non-risk enterprise"}
REASON_KINDS = {
    "nonconforming": "non-conforming spot check",
    "overdue_rectification": "rectification overdue",
    "failed_reinspection": "failed re-inspection",
    "complaint": "verified complaint",
    "incident": "quality-safety incident",
    "recall": "defect recall",
    "penalty": "administrative penalty on product quality",
    "licence": "licence or CCC problem",
    "licence_missing": "licence or CCC certificate missing",
    "licence_expired": "licence or CCC certificate expired",
}
NO_RISK_EVENT = "No risk event within the risk window."
WINDOW = re.compile(r" \((\d{4}-\d{2}-\d{2}) – (\d{4}-\d{2}-\d{2})\)\Z")


def codes_of(labels: dict) -> dict:
    """label in Chinese or English → code."""
    found = {}
    for language in ("zh-hans", "en"):
        with translation.override(language):
            found.update({gettext(label): code for code, label in labels.items()})
    return found


def coded(reason: str, grades: dict, classes: dict, kinds: dict, no_event: set) -> str | None:
    window = WINDOW.search(reason)
    if window and reason[: window.start()] in no_event:
        return f"no_risk_event {window[1]} {window[2]}"
    grade, times, risk_class = reason.partition(" × ")
    if times and grade in grades and risk_class in classes:
        return f"{grades[grade]} × {classes[risk_class]}"
    items = [item.partition(" × ") for item in reason.split("; ")]
    if reason and all(times and kind in kinds and count.isdigit() for kind, times, count in items):
        return "; ".join(f"{kinds[kind]} × {count}" for kind, _times, count in items)
    return None


def to_codes(apps, schema_editor):
    grades, classes, kinds = codes_of(GRADES), codes_of(CLASSES), codes_of(REASON_KINDS)
    no_event = set()
    for language in ("zh-hans", "en"):
        with translation.override(language):
            no_event.add(gettext(NO_RISK_EVENT))
    StateChange = apps.get_model("enterprises", "StateChange")
    changed = []
    for change in StateChange.objects.only("id", "reason").iterator(chunk_size=2000):
        code = coded(change.reason, grades, classes, kinds, no_event)
        if code is not None and code != change.reason:
            change.reason = code
            changed.append(change)
    StateChange.objects.bulk_update(changed, ["reason"], batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [
        ("enterprises", "0004_drop_rewritten_column_indexes"),
    ]

    operations = [migrations.RunPython(to_codes, migrations.RunPython.noop)]
