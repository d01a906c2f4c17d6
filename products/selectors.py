"""Product reads: why a product has its grade."""

from django.utils.translation import gettext as _

from .models import GradingPolicy, HarmSeverity, Product


def grade_points(product: Product, policy: GradingPolicy) -> list[tuple[str, int]]:
    """The points a product scores per factor, for showing why it has its grade."""
    harm = {HarmSeverity.SEVERE: policy.points_severe, HarmSeverity.MODERATE: policy.points_moderate}.get(
        product.harm_severity, policy.points_minor
    )
    points = [(str(HarmSeverity(product.harm_severity).label), harm)]
    if product.licence_required:
        points.append((_("licence or CCC required"), policy.points_licence))
    if product.vulnerable_users:
        points.append((_("used by vulnerable groups"), policy.points_vulnerable))
    if product.failure_sample >= policy.min_failure_sample:
        if product.failure_rate >= policy.failure_rate_high:
            points.append((_("failure rate %(rate)s%%") % {"rate": product.failure_rate}, policy.points_failure_high))
        elif product.failure_rate >= policy.failure_rate_medium:
            points.append((_("failure rate %(rate)s%%") % {"rate": product.failure_rate}, policy.points_failure_medium))
    return points
