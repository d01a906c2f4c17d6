"""A periodic task on django-celery-beat's database schedule, written by a data migration (the apps' own
schedules: the daily overdue check, the nightly pipeline, the sweep of work the broker missed).

Forwards creates the schedule and the periodic task, or leaves an existing task (perhaps edited in the admin) as
it is; backwards removes the task and the schedule when nothing else uses it. Only the migration's historical
models are used, so the migrations that call these keep working whatever the models become.
"""

from django.utils import timezone


def _schedules_changed(apps) -> None:
    # Historical models send no signals: tell a running beat that its schedule changed, as the admin would.
    apps.get_model("django_celery_beat", "PeriodicTasks").objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def _schedule(apps, *, crontab: dict | None, interval: dict | None) -> tuple[str, object, dict]:
    if (crontab is None) == (interval is None):
        raise ValueError("give a crontab or an interval")
    kind, fields = ("crontab", crontab) if crontab is not None else ("interval", interval)
    model = apps.get_model("django_celery_beat", "CrontabSchedule" if kind == "crontab" else "IntervalSchedule")
    return kind, model, fields


def periodic_task_create(apps, *, name: str, task: str, description: str, crontab: dict | None = None, interval: dict | None = None):
    kind, model, fields = _schedule(apps, crontab=crontab, interval=interval)
    schedule = model.objects.filter(**fields).first() or model.objects.create(**fields)
    apps.get_model("django_celery_beat", "PeriodicTask").objects.get_or_create(
        name=name, defaults={"task": task, kind: schedule, "enabled": True, "description": description}
    )
    _schedules_changed(apps)


def periodic_task_remove(apps, *, name: str, crontab: dict | None = None, interval: dict | None = None):
    _kind, model, fields = _schedule(apps, crontab=crontab, interval=interval)
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=name).delete()
    model.objects.filter(**fields, periodictask__isnull=True).delete()
    _schedules_changed(apps)
