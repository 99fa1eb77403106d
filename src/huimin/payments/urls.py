from django.urls import path

from huimin.payments import views

app_name = "payments"
urlpatterns = [
    path("", views.batch_list, name="list"),
    path("new/", views.batch_new, name="new"),
    path("<int:pk>/", views.batch_detail, name="detail"),
    path("<int:pk>/bank-file.csv", views.batch_export, name="export"),
    path("<int:pk>/return/", views.batch_return, name="return"),
]
