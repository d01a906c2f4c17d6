"""An overdue rectification's risk event described by its order and product only ("ZG-… · 童装"): rows written
before began with the kind's label in the site language ("逾期未整改: ", or "rectification overdue: " on an
English site), which the kind already says in each reader's language. That prefix is dropped; nothing else."""

from django.db import migrations
from django.db.models.functions import Substr

PREFIXES = ("逾期未整改: ", "rectification overdue: ")


def drop_label_prefix(apps, schema_editor):
    RiskEvent = apps.get_model("enterprises", "RiskEvent")
    overdue = RiskEvent.objects.filter(kind="overdue_rectification")
    for prefix in PREFIXES:
        overdue.filter(description__startswith=prefix).update(description=Substr("description", len(prefix) + 1))


class Migration(migrations.Migration):
    dependencies = [("enterprises", "0005_state_change_reason_codes")]

    operations = [migrations.RunPython(drop_label_prefix, migrations.RunPython.noop)]
