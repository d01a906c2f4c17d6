"""The sweep of work the broker missed (inspections.tasks.requeue_unqueued) on django-celery-beat's database
schedule: every 5 minutes, editable in the admin.

Data only. Forwards creates the interval and the periodic task (or leaves an existing one, perhaps edited, as it
is); backwards removes the periodic task and the interval when nothing else uses it.
"""

from django.db import migrations

from common.beat_schedules import periodic_task_create, periodic_task_remove

TASK_NAME = "inspections: requeue what the broker missed"
TASK_PATH = "inspections.tasks.requeue_unqueued"
INTERVAL = {"every": 5, "period": "minutes"}
DESCRIPTION = (
    "Queues again the plan dispatches and notifications whose message never reached a worker "
    "(Redis down when they were queued) or was lost with a dead worker. Idempotent: nothing is sent twice."
)


def create_schedule(apps, schema_editor):
    periodic_task_create(apps, name=TASK_NAME, task=TASK_PATH, description=DESCRIPTION, interval=INTERVAL)


def remove_schedule(apps, schema_editor):
    periodic_task_remove(apps, name=TASK_NAME, interval=INTERVAL)


class Migration(migrations.Migration):
    dependencies = [
        ("inspections", "0012_field_outbox"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
