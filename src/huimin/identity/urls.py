from django.urls import path

from huimin.identity import views

app_name = "identity"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("pairs/<int:pk>/", views.pair_detail, name="pair"),
    path("decide/", views.decide, name="decide"),
    path("claims/<int:pk>/decide/", views.decide_claim, name="decide_claim"),
]
