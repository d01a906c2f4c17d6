from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView
from django.views.i18n import JavaScriptCatalog

from enterprises.api.views import PriorityMarkersView, RegionPanelView
from enterprises.views import enterprise_detail
from inspections import plan_views
from regions.api.views import RegionMapView
from regions.views import map_page

admin.site.site_header = _("Jiaxing product quality three-division smart supervision")
admin.site.site_title = _("Jiaxing QS")
admin.site.index_title = _("Administration")

api = [
    path("regions/map/", RegionMapView.as_view(), name="api-region-map"),
    path("regions/<str:code>/panel/", RegionPanelView.as_view(), name="api-region-panel"),
    path("enterprises/priorities/", PriorityMarkersView.as_view(), name="api-priorities"),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="map", permanent=False)),
    path("map/", map_page, name="map"),
    path("enterprises/<int:pk>/", enterprise_detail, name="enterprise-detail"),
    path("plans/", plan_views.plan_list, name="plan-list"),
    path("plans/new/", plan_views.plan_new, name="plan-new"),
    path("plans/<int:pk>/", plan_views.plan_detail, name="plan-detail"),
    path("plans/<int:pk>/approve/", plan_views.plan_approve_view, name="plan-approve"),
    path("api/", include(api)),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("admin/", admin.site.urls),
]
