"""The nightly pipeline on django-celery-beat's database schedule: 02:30 Asia/Shanghai, after the daily overdue
check (01:30) has recorded the day's overdue orders as risk events; editable in the admin.

Data only. Forwards creates the schedule and the periodic task (or leaves an existing one, perhaps edited, as
it is); backwards removes the periodic task and the schedule when nothing else uses it.
"""

from django.db import migrations
from django.utils import timezone

TASK_NAME = "jiaxing_qs: nightly pipeline"
TASK_PATH = "jiaxing_qs.tasks.nightly_pipeline"
SCHEDULE = {"minute": "30", "hour": "2", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*", "timezone": "Asia/Shanghai"}


def _schedules_changed(apps):
    # Historical models send no signals: tell a running beat that its schedule changed, as the admin would.
    apps.get_model("django_celery_beat", "PeriodicTasks").objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab = CrontabSchedule.objects.filter(**SCHEDULE).first() or CrontabSchedule.objects.create(**SCHEDULE)
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": TASK_PATH,
            "crontab": crontab,
            "enabled": True,
            "description": "Grades products, classes and categorises enterprises (split by county over the workers), "
            "colours the regions, computes the index and scores. Idempotent: a second run the same day changes nothing.",
        },
    )
    _schedules_changed(apps)


def remove_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=TASK_NAME).delete()
    CrontabSchedule.objects.filter(**SCHEDULE, periodictask__isnull=True).delete()
    _schedules_changed(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("jiaxing_qs", "0002_pipeline_runs"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
