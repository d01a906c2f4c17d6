from django.urls import path

from . import views

app_name = "inspections"

urlpatterns = [
    path("", views.my_tasks, name="my-tasks"),
    path("<int:pk>/", views.task_detail, name="task-detail"),
    path("<int:pk>/check/", views.check_form, name="check-form"),
    path("<int:pk>/done/", views.check_done, name="check-done"),
]
