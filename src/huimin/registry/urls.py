from django.urls import path

from huimin.registry import views

app_name = "registry"
urlpatterns = [
    path("persons/", views.person_list, name="persons"),
    path("persons/new/", views.person_new, name="person_new"),
    path("persons/<int:pk>/", views.person_detail, name="person"),
    path("households/<int:pk>/", views.household_detail, name="household"),
    path("import/", views.import_view, name="import"),
    path("import/template.<str:fmt>", views.import_template, name="template"),
]
