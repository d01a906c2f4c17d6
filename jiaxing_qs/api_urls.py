"""The read API under /api/: one router for the resources, the OpenAPI document and its two viewers.

Included after the map's own routes (``regions/map/``, ``regions/<code>/panel/``, ``enterprises/priorities/``
in urls.py), which therefore keep their URLs; the lookups here only match division codes and numeric ids, so
neither set can shadow the other. URL names start with ``api-`` so that none collides with a page's
(``enterprise-detail`` is the enterprise page).
"""

from django.contrib.auth.views import redirect_to_login
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.routers import DefaultRouter

from common.api_errors import api_not_found
from enterprises.api.viewsets import EnterpriseViewSet, RiskEventViewSet
from inspections.api.field import FieldCheckView, FieldPhotoView, FieldTaskListView
from inspections.api.risk_models import RiskModelViewSet
from inspections.api.viewsets import InspectionPlanViewSet, InspectionTaskViewSet, RectificationOrderViewSet, SpotCheckResultViewSet
from products.api.viewsets import ProductViewSet
from regions.api.viewsets import REGION_CODE, RegionSnapshotViewSet, RegionViewSet

router = DefaultRouter()
router.register("regions", RegionViewSet, basename="api-region")
router.register(rf"regions/(?P<region_code>{REGION_CODE})/snapshots", RegionSnapshotViewSet, basename="api-region-snapshot")
router.register("products", ProductViewSet, basename="api-product")
router.register("enterprises", EnterpriseViewSet, basename="api-enterprise")
router.register("risk-events", RiskEventViewSet, basename="api-risk-event")
router.register("spot-checks", SpotCheckResultViewSet, basename="api-spot-check")
router.register("inspection-plans", InspectionPlanViewSet, basename="api-inspection-plan")
router.register("inspection-tasks", InspectionTaskViewSet, basename="api-inspection-task")
router.register("rectification-orders", RectificationOrderViewSet, basename="api-rectification-order")
router.register("risk-models", RiskModelViewSet, basename="api-risk-model")


class LoginFirst:
    """The viewers are pages for people: without a session, go to the login page and come back."""

    def handle_exception(self, exc):
        if isinstance(exc, NotAuthenticated | AuthenticationFailed):
            return redirect_to_login(self.request.get_full_path())
        return super().handle_exception(exc)


class SwaggerView(LoginFirst, SpectacularSwaggerSplitView):
    """Its start-up script from a URL of its own (``?script``), not inline: the Content-Security-Policy runs no inline script."""

    template_name = "api/swagger_ui.html"  # the stock page's <style> with the request's nonce


class RedocView(LoginFirst, SpectacularRedocView):
    # The stock page links Google Fonts and starts ReDoc from an inline script. Its bundle's "API docs by Redocly"
    # <img> from cdn.redoc.ly (hard-coded) is refused by the site's policy (common.csp: images from this site
    # only), so the browser never asks the CDN and ReDoc drops the image.
    template_name = "api/redoc.html"


urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Both viewers load their scripts from our static files (drf-spectacular-sidecar): no CDN, works offline.
    path("docs/", SwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", RedocView.as_view(url_name="api-schema"), name="api-redoc"),
    # The inspector's phone app (static/js/field.js): its tasks to keep offline, and its outbox.
    path("field/tasks/", FieldTaskListView.as_view(), name="api-field-tasks"),
    path("field/photos/", FieldPhotoView.as_view(), name="api-field-photos"),
    path("field/checks/", FieldCheckView.as_view(), name="api-field-checks"),
    *router.urls,
    # Anything else under /api/ ending in a slash is a 404 in the API's error shape, not Django's HTML page
    # (without the slash, APPEND_SLASH still redirects first); [\s\S], as "." would stop at a newline (%0A).
    re_path(r"^(?P<path>[\s\S]*)/$", api_not_found),
]
