from django.urls import path

from . import code_views, views

app_name = "enterprises"

urlpatterns = [
    path("enterprises/<int:pk>/", views.enterprise_detail, name="detail"),
    path("enterprises/key-supervised/<str:code>/", views.key_supervised_list, name="key-list"),
    path("enterprises/<int:pk>/code.svg", code_views.code_svg, name="code-svg"),
    path("enterprises/<int:pk>/code.png", code_views.code_png, name="code-png"),
    path("enterprises/<int:pk>/code/card/", code_views.code_card, name="code-card"),
    path("enterprises/<int:pk>/code/revoke/", code_views.code_revoke_view, name="code-revoke"),
]
