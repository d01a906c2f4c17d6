"""Versioned rule rows: thresholds, ratios and weights that administrators edit.

A rule is never changed in place. Each edit adds a version saying who made it, when and why; the newest
version whose ``valid_from`` has passed is in force. Old versions stay so a past map can be redrawn with
the rules in force then, and so the history shows what each value was changed from.
"""

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

RULE_META = ("id", "valid_from", "created_at", "created_by", "reason")  # who, when and why, not the rule itself


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
        """The version in force at ``at`` (default now): the newest whose ``valid_from`` has passed, else the
        earliest (a date before the first version is read with the first rules). A read: it never writes; the
        documented defaults are written once, by ``rule_defaults_ensure`` after every migrate."""
        at = at or timezone.now()
        version = cls.objects.filter(valid_from__lte=at).order_by("-valid_from", "-id").first()
        version = version or cls.objects.order_by("valid_from", "id").first()
        if version is None:
            raise cls.DoesNotExist(f"no version of {cls.__name__}: run `python manage.py migrate`, which writes the defaults")
        return version

    @classmethod
    def in_force_on(cls, day: dt.date):
        """The version in force on a business date: at the end of that day (the pipeline's ``as_of``), so a
        version adopted during the day applies to the whole of it."""
        return cls.in_force(timezone.make_aware(dt.datetime.combine(day, dt.time.max)))

    def rule_values(self) -> dict:
        """The rule's own values, without who, when and why: what two versions are compared on."""
        return {f.attname: getattr(self, f.attname) for f in self._meta.concrete_fields if f.name not in RULE_META}

    def unchanged_problem(self) -> ValidationError | None:
        """A new version must change something: one identical to the version it would replace would only
        recompute everything under the same rules (and clutter the history). The refusal, or None. (Not part of
        ``clean``: an unchanged draft is a fine thing to simulate.)"""
        try:
            replaced = type(self).in_force(self.valid_from)
        except type(self).DoesNotExist:
            return None
        if replaced.pk == self.pk or replaced.rule_values() != self.rule_values():
            return None
        return ValidationError(
            _("These values are those of the version in force since %(day)s: nothing would change. Change at least one value.")
            % {"day": timezone.localtime(replaced.valid_from).date().isoformat()},
            code="unchanged",
        )

    def previous(self):
        """The version this one replaced (the 'from what' of the change)."""
        return (
            type(self)
            .objects.filter(models.Q(valid_from__lt=self.valid_from) | models.Q(valid_from=self.valid_from, id__lt=self.id))
            .order_by("-valid_from", "-id")
            .first()
        )


DEFAULTS_VALID_FROM = (2000, 1, 1)
DEFAULTS_REASON = "系统默认值 / system defaults"


def rule_defaults_ensure(sender=None, **kwargs) -> None:
    """Write the documented defaults of every rule model of ``sender`` (an app config) that has no version yet.

    Connected to ``post_migrate``, so a fresh database (and a test database after a flush) starts with them, valid
    since 2000: reading the rules in force never has to create rows."""
    models_of = sender.get_models() if sender is not None else []
    for model in models_of:
        if issubclass(model, RuleVersion) and not model.objects.exists():
            model.objects.create(valid_from=timezone.make_aware(timezone.datetime(*DEFAULTS_VALID_FROM)), reason=DEFAULTS_REASON)
