from django.urls import path

from huimin.cases import notice_views as views

app_name = "notices"
urlpatterns = [
    path("", views.notice_list, name="list"),
    path("new/", views.notice_new, name="new"),
    path("<int:pk>/", views.notice_detail, name="detail"),
    path("<int:pk>/pdf/", views.notice_pdf, name="pdf"),
    path("export/", views.notice_export, name="export"),
]
