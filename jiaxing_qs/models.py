"""The top floor's own records: the login failure counts (jiaxing_qs.login)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class LoginFailures(models.Model):
    """Failed logins counted against one username or one address, in the database so that every worker process
    and app server counts the same attempts (jiaxing_qs.login has the rule)."""

    key = models.CharField(_("counted for"), max_length=100, unique=True)  # "user:<hash>" or "ip:<address>"
    failures = models.PositiveIntegerField(_("failures in the window"), default=0)
    window_ends = models.DateTimeField(_("window ends"), db_index=True)
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)

    class Meta:
        verbose_name = _("login failures")
        verbose_name_plural = _("login failures")

    def __str__(self):
        return self.key
