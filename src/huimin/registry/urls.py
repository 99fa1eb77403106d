from django.urls import path

from huimin.registry import views

app_name = "registry"
urlpatterns = [
    path("persons/", views.person_list, name="persons"),
    path("persons/<int:pk>/", views.person_detail, name="person"),
    path("import/", views.import_view, name="import"),
    path("import/template.<str:fmt>", views.import_template, name="template"),
]
