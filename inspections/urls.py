from django.urls import path

from . import dingtalk_views
from .evaluation import views as dashboard_views
from .fieldwork import views
from .planning import public_views
from .planning import views as plan_views
from .rectification import views as order_views
from .scoring import views as risk_views

app_name = "inspections"

urlpatterns = [
    path("q/<str:token>/", views.code_scan, name="quality-code"),
    path("dingtalk/login/", dingtalk_views.dingtalk_login, name="dingtalk-login"),
    path("sw.js", views.service_worker, name="service-worker"),
    path("field/offline/", views.field_offline, name="field-offline"),
    path("tasks/", views.my_tasks, name="my-tasks"),
    path("tasks/<int:pk>/", views.task_detail, name="task-detail"),
    path("tasks/<int:pk>/check/", views.check_form, name="check-form"),
    path("tasks/<int:pk>/done/", views.check_done, name="check-done"),
    path("plans/", plan_views.plan_list, name="plan-list"),
    path("plans/new/", plan_views.plan_new, name="plan-new"),
    path("plans/<int:pk>/", plan_views.plan_detail, name="plan-detail"),
    path("plans/<int:pk>/approve/", plan_views.plan_approve_view, name="plan-approve"),
    path("plans/<int:pk>/notifications/resend/", plan_views.plan_notifications_resend_view, name="plan-notifications-resend"),
    path("public/plans/<int:pk>/", public_views.public_plan, name="public-plan"),
    path("public/plans/<int:pk>/population.csv", public_views.public_plan_population, name="public-plan-population"),
    path("orders/", order_views.order_list, name="order-list"),
    path("orders/export.xlsx", order_views.order_export, name="order-export"),
    path("dashboard/", dashboard_views.dashboard_page, name="dashboard"),
    path("dashboard/export.xlsx", dashboard_views.dashboard_export, name="dashboard-export"),
    path("simulator/", dashboard_views.simulator_page, name="simulator"),
    path("risk-models/", risk_views.risk_models_page, name="risk-models"),
    path("risk-models/adopt/", risk_views.risk_model_adopt_view, name="risk-model-adopt"),
]
