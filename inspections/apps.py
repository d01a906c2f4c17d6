from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InspectionsConfig(AppConfig):
    name = "inspections"
    verbose_name = _("Inspections")

    def ready(self):
        from common.signals import enterprise_page_sections

        # Registers the Celery tasks in every process, web included: the services queue them by name
        # (common.queue), which finds only registered tasks (eager runs and retry options hold for those alone).
        from . import tasks  # noqa: F401
        from .rectification.views import enterprise_orders_section

        # The enterprise page shows the enterprise's open rectification orders (enterprises cannot import us).
        enterprise_page_sections.connect(enterprise_orders_section, dispatch_uid="inspections.enterprise_orders")
