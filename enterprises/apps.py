from django.apps import AppConfig
from django.utils.translation import pgettext_lazy


class EnterprisesConfig(AppConfig):
    name = "enterprises"
    verbose_name = pgettext_lazy("application", "Enterprises")  # the section, not the column "number of enterprises"

    def ready(self):
        from . import checks  # noqa: F401 - registers the system checks
