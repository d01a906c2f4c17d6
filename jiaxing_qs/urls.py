from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.i18n import JavaScriptCatalog

from enterprises import code_views
from enterprises.api.views import PriorityMarkersView, RegionPanelView
from enterprises.views import enterprise_detail
from inspections import dashboard_views, plan_views, risk_views
from inspections import views as inspection_views
from inspections.public_views import public_plan, public_plan_population
from regions.api.views import RegionMapView
from regions.views import home, map_page

from .login import AdminLoginForm, LoginForm

admin.site.site_header = _("Jiaxing product quality three-division smart supervision")
admin.site.site_title = _("Jiaxing QS")
admin.site.index_title = _("Administration")
admin.site.login_form = AdminLoginForm  # the same lockout as the site's login page

api = [
    path("regions/map/", RegionMapView.as_view(), name="api-region-map"),
    path("regions/<str:code>/panel/", RegionPanelView.as_view(), name="api-region-panel"),
    path("enterprises/priorities/", PriorityMarkersView.as_view(), name="api-priorities"),
]

urlpatterns = [
    path("", home, name="home"),
    path("map/", map_page, name="map"),
    path("enterprises/<int:pk>/", enterprise_detail, name="enterprise-detail"),
    path("enterprises/<int:pk>/code.svg", code_views.code_svg, name="enterprise-code-svg"),
    path("enterprises/<int:pk>/code.png", code_views.code_png, name="enterprise-code-png"),
    path("enterprises/<int:pk>/code/card/", code_views.code_card, name="enterprise-code-card"),
    path("enterprises/<int:pk>/code/revoke/", code_views.code_revoke_view, name="enterprise-code-revoke"),
    path("q/<str:token>/", inspection_views.code_scan, name="quality-code"),
    path("plans/", plan_views.plan_list, name="plan-list"),
    path("plans/new/", plan_views.plan_new, name="plan-new"),
    path("plans/<int:pk>/", plan_views.plan_detail, name="plan-detail"),
    path("plans/<int:pk>/approve/", plan_views.plan_approve_view, name="plan-approve"),
    path("public/plans/<int:pk>/", public_plan, name="public-plan"),
    path("public/plans/<int:pk>/population.csv", public_plan_population, name="public-plan-population"),
    path("dashboard/", dashboard_views.dashboard_page, name="dashboard"),
    path("dashboard/export.xlsx", dashboard_views.dashboard_export, name="dashboard-export"),
    path("simulator/", dashboard_views.simulator_page, name="simulator"),
    path("risk-models/", risk_views.risk_models_page, name="risk-models"),
    path("risk-models/adopt/", risk_views.risk_model_adopt_view, name="risk-model-adopt"),
    path("tasks/", include("inspections.urls")),
    path("api/", include(api)),
    path("api/", include("jiaxing_qs.api_urls")),  # the read API, schema and docs; after the map routes above
    path("accounts/login/", auth_views.LoginView.as_view(authentication_form=LoginForm), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("admin/", admin.site.urls),
]
