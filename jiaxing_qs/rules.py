"""Versioned rule rows: thresholds, ratios and weights that administrators edit.

A rule is never changed in place. Each edit adds a version saying who made it, when and why; the newest
version whose ``valid_from`` has passed is in force. Old versions stay so a past map can be redrawn with
the rules in force then, and so the history shows what each value was changed from.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class RuleVersion(models.Model):
    valid_from = models.DateTimeField(_("valid from"), default=timezone.now, db_index=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reason = models.CharField(_("reason for the change"), max_length=500)

    class Meta:
        abstract = True
        ordering = ["-valid_from", "-id"]
        get_latest_by = ["valid_from", "id"]

    @classmethod
    def in_force(cls, at=None):
        """The version in force at ``at`` (default now); the documented defaults when none was ever saved."""
        at = at or timezone.now()
        version = cls.objects.filter(valid_from__lte=at).order_by("-valid_from", "-id").first()
        if version is None:
            version = cls.objects.order_by("valid_from", "id").first()
        if version is None:
            version = cls.objects.create(
                valid_from=timezone.make_aware(timezone.datetime(2000, 1, 1)),
                reason="系统默认值 / system defaults",
            )
        return version

    def previous(self):
        """The version this one replaced (the 'from what' of the change)."""
        return (
            type(self)
            .objects.filter(models.Q(valid_from__lt=self.valid_from) | models.Q(valid_from=self.valid_from, id__lt=self.id))
            .order_by("-valid_from", "-id")
            .first()
        )
