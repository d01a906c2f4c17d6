"""The daily overdue check on django-celery-beat's database schedule: 01:30 Asia/Shanghai, editable in the admin.

Data only. Forwards creates the schedule and the periodic task (or leaves an existing one, perhaps edited, as
it is); backwards removes the periodic task and the schedule when nothing else uses it.
"""

from django.db import migrations

from common.beat_schedules import periodic_task_create, periodic_task_remove

TASK_NAME = "inspections: daily overdue check"
TASK_PATH = "inspections.tasks.daily_check"
SCHEDULE = {"minute": "30", "hour": "1", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*", "timezone": "Asia/Shanghai"}
DESCRIPTION = (
    "Flags overdue tasks and rectification orders, reminds officers, escalates missed second "
    "re-inspections (SAMR Order 18). Idempotent: running it twice a day changes nothing."
)


def create_schedule(apps, schema_editor):
    periodic_task_create(apps, name=TASK_NAME, task=TASK_PATH, description=DESCRIPTION, crontab=SCHEDULE)


def remove_schedule(apps, schema_editor):
    periodic_task_remove(apps, name=TASK_NAME, crontab=SCHEDULE)


class Migration(migrations.Migration):
    dependencies = [
        ("inspections", "0002_closed_loop"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
