from importlib import import_module

from django.apps import AppConfig, apps
from django.contrib.admin.apps import SimpleAdminConfig
from django.utils.module_loading import module_has_submodule


class AdminConfig(SimpleAdminConfig):
    """Admin autodiscovery without django-leaflet's admin module.

    leaflet.admin imports django.contrib.gis, which needs the GDAL C library; the app stores GeoJSON in
    JSON fields and must run on plain Python, so that one module is skipped.
    """

    skipped = {"leaflet"}

    def ready(self):
        super().ready()
        for app_config in apps.get_app_configs():
            if app_config.name not in self.skipped and module_has_submodule(app_config.module, "admin"):
                import_module(f"{app_config.name}.admin")


class JiaxingQsConfig(AppConfig):
    """The project package as an app: it owns the pipeline, its tasks and the cross-app commands."""

    default = True
    name = "jiaxing_qs"
    verbose_name = "Jiaxing QS"

    def ready(self):
        from django.db.models.signals import post_migrate

        from common.login_throttle import login_throttle_register
        from common.rules import rule_defaults_ensure
        from common.signals import enterprise_outcome_recorded, pipeline_inputs_changed

        from .login import address_failure_record, address_refusal

        post_migrate.connect(rule_defaults_ensure, dispatch_uid="jiaxing_qs.rule_defaults")
        pipeline_inputs_changed.connect(_queue_pipeline, dispatch_uid="jiaxing_qs.queue_pipeline")
        enterprise_outcome_recorded.connect(_queue_feedback, dispatch_uid="jiaxing_qs.queue_feedback")
        login_throttle_register(refusal=address_refusal, failure_record=address_failure_record)  # DingTalk's 免登


def _queue_pipeline(sender, as_of=None, **kwargs):
    from . import tasks

    tasks.enqueue_pipeline(as_of)


def _queue_feedback(sender, enterprise_id, **kwargs):
    from . import tasks

    tasks.enqueue_feedback(enterprise_id)
