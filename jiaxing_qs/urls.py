from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.utils.translation import gettext_lazy as _
from django.views.i18n import JavaScriptCatalog

from enterprises.api.views import PriorityMarkersView, RegionPanelView
from inspections.api.region_orders import RegionOrdersView
from regions.api.views import RegionMapView
from regions.api.viewsets import REGION_CODE

from .login import AdminLoginForm, LoginForm

admin.site.site_header = _("Jiaxing product quality three-division smart supervision")
admin.site.site_title = _("Jiaxing QS")
admin.site.index_title = _("Administration")
admin.site.login_form = AdminLoginForm  # the same lockout as the site's login page

api = [
    path("regions/map/", RegionMapView.as_view(), name="api-region-map"),
    re_path(rf"^regions/(?P<code>{REGION_CODE})/panel/$", RegionPanelView.as_view(), name="api-region-panel"),
    re_path(rf"^regions/(?P<code>{REGION_CODE})/orders/$", RegionOrdersView.as_view(), name="api-region-orders"),
    path("enterprises/priorities/", PriorityMarkersView.as_view(), name="api-priorities"),
]

urlpatterns = [
    path("", include("regions.urls")),
    path("", include("enterprises.urls")),
    path("", include("inspections.urls")),
    path("api/", include(api)),
    path("api/", include("jiaxing_qs.api_urls")),  # the read API, schema and docs; after the map routes above
    path("accounts/login/", auth_views.LoginView.as_view(authentication_form=LoginForm), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("admin/", admin.site.urls),
]
