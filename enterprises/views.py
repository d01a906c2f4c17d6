from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, render

from common.signals import enterprise_page_sections
from regions.access import ALL_STAFF, role_required
from regions.models import Region
from regions.selectors import within, without_boundaries

from .models import Enterprise, EnterpriseProduct, RiskEvent
from .selectors import enterprises_within, key_supervised_in

PAGE_SIZE = 50


@role_required(*ALL_STAFF)
def enterprise_detail(request, pk):
    """An enterprise as the supervisor sees it: class and reasons, category, products, checks, events."""
    enterprise = get_object_or_404(
        enterprises_within(request.jurisdiction)
        .select_related("town__parent", "risk_score__model")
        .prefetch_related(
            "risk_reasons",
            Prefetch("made", queryset=EnterpriseProduct.objects.select_related("product__product_class").order_by("-product__grade")),
            Prefetch("risk_events", queryset=RiskEvent.objects.select_related("product").order_by("-occurred_on")),
        ),
        pk=pk,
    )
    # Spot checks belong to the inspections app; the reverse relation reads them without importing it.
    spot_checks = enterprise.spot_checks.select_related("product").order_by("-checked_on")[:50]
    score = getattr(enterprise, "risk_score", None)  # kept by the inspections app; None before a model is adopted
    # Sections the floors above add (the open rectification orders): common.signals.enterprise_page_sections.
    answers = enterprise_page_sections.send(sender=Enterprise, request=request, enterprise=enterprise)
    sections = [html for _receiver, html in answers if html]
    context = {
        "enterprise": enterprise,
        "spot_checks": spot_checks,
        "score": score,
        "factors": score.factors() if score else [],
        "sections": sections,
    }
    return render(request, "enterprises/enterprise_detail.html", context)


@role_required(*ALL_STAFF)
def key_supervised_list(request, code):
    """Every 重点监管企业 of a region of the user's jurisdiction, as the map panel orders its first ten."""
    region = get_object_or_404(without_boundaries(Region.objects.filter(within(request.jurisdiction)), ""), code=code)
    page = Paginator(key_supervised_in(region), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "enterprises/key_supervised_list.html", {"region": region, "page": page})
