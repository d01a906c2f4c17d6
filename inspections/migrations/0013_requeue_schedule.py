"""The sweep of work the broker missed (inspections.tasks.requeue_unqueued) on django-celery-beat's database
schedule: every 5 minutes, editable in the admin.

Data only. Forwards creates the interval and the periodic task (or leaves an existing one, perhaps edited, as it
is); backwards removes the periodic task and the interval when nothing else uses it.
"""

from django.db import migrations
from django.utils import timezone

TASK_NAME = "inspections: requeue what the broker missed"
TASK_PATH = "inspections.tasks.requeue_unqueued"
INTERVAL = {"every": 5, "period": "minutes"}


def _schedules_changed(apps):
    # Historical models send no signals: tell a running beat that its schedule changed, as the admin would.
    apps.get_model("django_celery_beat", "PeriodicTasks").objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    interval = IntervalSchedule.objects.filter(**INTERVAL).first() or IntervalSchedule.objects.create(**INTERVAL)
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": TASK_PATH,
            "interval": interval,
            "enabled": True,
            "description": "Queues again the plan dispatches and notifications whose message never reached a worker "
            "(Redis down when they were queued) or was lost with a dead worker. Idempotent: nothing is sent twice.",
        },
    )
    _schedules_changed(apps)


def remove_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=TASK_NAME).delete()
    IntervalSchedule.objects.filter(**INTERVAL, periodictask__isnull=True).delete()
    _schedules_changed(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("inspections", "0012_field_outbox"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
