from django.urls import path

from huimin.front import views

app_name = "front"
urlpatterns = [
    path("payments/", views.area_payments, name="area_payments"),
]
