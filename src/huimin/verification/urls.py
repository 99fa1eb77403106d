from django.urls import path

from huimin.verification import views

app_name = "feeds"
urlpatterns = [
    path("", views.index, name="index"),
    path("files/<int:pk>/", views.file_detail, name="file"),
    path("rows/", views.exceptions, name="exceptions"),
    path("template/<str:kind>.<str:fmt>", views.template, name="template"),
    path("effects/", views.effects, name="effects"),
    path("effects/preview/", views.preview, name="preview"),
    path("effects/confirm/", views.confirm, name="confirm"),
    path("effects/<int:pk>/dismiss/", views.dismiss, name="dismiss"),
    path("offers/", views.offers, name="offers"),
    path("tokens/", views.token_list, name="tokens"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
]
