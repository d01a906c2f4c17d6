"""The nightly pipeline on django-celery-beat's database schedule: 02:30 Asia/Shanghai, after the daily overdue
check (01:30) has recorded the day's overdue orders as risk events; editable in the admin.

Data only. Forwards creates the schedule and the periodic task (or leaves an existing one, perhaps edited, as
it is); backwards removes the periodic task and the schedule when nothing else uses it.
"""

from django.db import migrations

from common.beat_schedules import periodic_task_create, periodic_task_remove

TASK_NAME = "jiaxing_qs: nightly pipeline"
TASK_PATH = "jiaxing_qs.tasks.nightly_pipeline"
SCHEDULE = {"minute": "30", "hour": "2", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*", "timezone": "Asia/Shanghai"}
DESCRIPTION = (
    "Grades products, classes and categorises enterprises (split by county over the workers), "
    "colours the regions, computes the index and scores. Idempotent: a second run the same day changes nothing."
)


def create_schedule(apps, schema_editor):
    periodic_task_create(apps, name=TASK_NAME, task=TASK_PATH, description=DESCRIPTION, crontab=SCHEDULE)


def remove_schedule(apps, schema_editor):
    periodic_task_remove(apps, name=TASK_NAME, crontab=SCHEDULE)


class Migration(migrations.Migration):
    dependencies = [
        ("jiaxing_qs", "0002_pipeline_runs"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
