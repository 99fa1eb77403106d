from django.urls import path

from huimin.help import views

app_name = "help"
urlpatterns = [
    path("", views.help_page, name="page"),
    path("images/<str:name>", views.image, name="image"),
    path("<str:role>/", views.help_page, name="role"),
]
