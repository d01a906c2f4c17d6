"""A task's reason as its message's key and parameters, so that it is shown in the reader's language.

The stored text (``reason``, in the site language) stays as it was; the parameters of existing tasks are read back
from it, in Chinese or English, with the messages as they were when this migration was written. A text that reads
as neither (edited by hand) keeps no parameters and is shown as stored.
"""

import re

from django.db import migrations, models
from django.utils import translation
from django.utils.translation import gettext

# The messages of inspections.models.TASK_REASONS at this migration (their Chinese comes from the catalogue).
MESSAGES = {
    "control": "random control arm: rank %(rank)d of %(n)d by control key",
    "stratum": "%(stratum)s: rank %(rank)d of %(n)d, %(quota)d drawn",
    "stratum_pps": "%(stratum)s: rank %(rank)d of %(n)d by risk-weighted key (inclusion probability %(p).1f%%), %(quota)d drawn",
    "leftover": "budget the strata left: rank %(rank)d of %(n)d by risk-weighted key (probability %(p).1f%%)",
    "reinspection": "Re-inspection of order %(number)s (non-conforming result %(result)s): confirm the rectification by %(day)s.",
    "second_reinspection": "Second re-inspection of order %(number)s after its public announcement: between %(start)s and %(end)s.",
}
PLACEHOLDER = re.compile(r"%\((\w+)\)(d|\.1f|s)|%%")
NUMBER = {"d": int, ".1f": float}
GROUP = {"d": r"\d+", ".1f": r"\d+\.\d", "s": r".+?"}


def pattern(template: str) -> re.Pattern:
    """A %-format template as a regular expression with one named group per placeholder."""
    parts, last = [], 0
    for match in PLACEHOLDER.finditer(template):
        parts.append(re.escape(template[last : match.start()]))
        name, kind = match.groups()
        parts.append("%" if name is None else rf"(?P<{name}>{GROUP[kind]})")
        last = match.end()
    parts.append(re.escape(template[last:]))
    return re.compile("".join(parts) + r"\Z")


def kinds(template: str) -> dict[str, str]:
    return {name: kind for name, kind in PLACEHOLDER.findall(template) if name}


def reason_params(text: str, stratum: str, patterns: list) -> dict:
    for key, regex, types in patterns:
        match = regex.match(text)
        if match:
            params = {name: NUMBER[types[name]](value) if types[name] in NUMBER else value for name, value in match.groupdict().items()}
            if "stratum" in params:
                params["stratum"] = stratum  # the task keeps its stratum's code beside the text
            return {"key": key, **params}
    return {}


def fill(apps, schema_editor):
    patterns = []
    for language in ("zh-hans", "en"):
        with translation.override(language):
            patterns += [(key, pattern(gettext(message)), kinds(message)) for key, message in MESSAGES.items()]
    InspectionTask = apps.get_model("inspections", "InspectionTask")
    changed = []
    for task in InspectionTask.objects.only("id", "reason", "stratum").iterator(chunk_size=2000):
        params = reason_params(task.reason, task.stratum, patterns)
        if params:
            task.reason_params = params
            changed.append(task)
    InspectionTask.objects.bulk_update(changed, ["reason_params"], batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [
        ("inspections", "0009_dingtalk"),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalinspectiontask",
            name="reason_params",
            field=models.JSONField(blank=True, default=dict, verbose_name="why drawn (key and parameters)"),
        ),
        migrations.AddField(
            model_name="inspectiontask",
            name="reason_params",
            field=models.JSONField(blank=True, default=dict, verbose_name="why drawn (key and parameters)"),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
