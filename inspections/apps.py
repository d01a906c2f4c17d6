from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InspectionsConfig(AppConfig):
    name = "inspections"
    verbose_name = _("Inspections")

    def ready(self):
        # Registers the Celery tasks in every process, web included: the services queue them by name
        # (common.queue), which finds only registered tasks (eager runs and retry options hold for those alone).
        from . import tasks  # noqa: F401
