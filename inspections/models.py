"""Spot-check results. Plans, draws, tasks and rectification orders join them in the closed-loop issue."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from enterprises.models import Enterprise
from products.models import Product


class SpotCheckLevel(models.TextChoices):
    NATIONAL = "national", _("national spot check")
    PROVINCIAL = "provincial", _("provincial spot check")
    CITY = "city", _("city spot check")
    COUNTY = "county", _("county spot check")


class ResultSource(models.TextChoices):
    IMPORTED = "imported", _("imported (historic)")
    INSPECTION = "inspection", _("reported by an inspector")


class SpotCheckResult(models.Model):
    """One spot-checked batch (监督抽查) and its outcome."""

    enterprise = models.ForeignKey(Enterprise, verbose_name=_("enterprise"), on_delete=models.PROTECT, related_name="spot_checks")
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="spot_checks")
    checked_on = models.DateField(_("sampling date"), db_index=True)
    conforming = models.BooleanField(_("conforming"))
    batch_number = models.CharField(_("batch number"), max_length=60, blank=True)
    lab_report_number = models.CharField(_("test report number"), max_length=60)
    level = models.CharField(_("spot-check level"), max_length=12, choices=SpotCheckLevel.choices, default=SpotCheckLevel.CITY)
    failed_items = models.CharField(_("non-conforming items"), max_length=500, blank=True)
    source = models.CharField(_("source"), max_length=12, choices=ResultSource.choices, default=ResultSource.IMPORTED)
    is_demo = models.BooleanField(_("demo data"), default=False)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("spot-check result")
        verbose_name_plural = _("spot-check results")
        ordering = ["-checked_on", "-id"]
        constraints = [models.UniqueConstraint(fields=["lab_report_number"], name="one_result_per_test_report")]
        indexes = [models.Index(fields=["product", "checked_on"]), models.Index(fields=["enterprise", "checked_on"])]

    def __str__(self):
        outcome = _("conforming") if self.conforming else _("non-conforming")
        return f"{self.lab_report_number} · {self.product.name} · {outcome}"

    @property
    def risk_event_ref(self) -> str:
        """The source reference a non-conforming result's risk event carries."""
        return f"抽查 {self.lab_report_number}"
