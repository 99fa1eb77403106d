from django.urls import path

from huimin.programs import views

app_name = "programs"
urlpatterns = [
    path("whatif/", views.whatif, name="whatif"),
    path("whatif/document.yaml", views.whatif_document, name="whatif_document"),
]
