from django.urls import path

from huimin.payments import views

app_name = "payments"
urlpatterns = [
    path("", views.batch_list, name="list"),
    path("cycles/new/", views.cycle_new, name="cycle_new"),
    path("cycles/<int:pk>/", views.cycle_detail, name="cycle"),
    path("cycles/<int:pk>/reconcile/", views.cycle_reconcile, name="reconcile"),
    path("cycles/<int:pk>/reconcile.xlsx", views.cycle_reconcile_xlsx, name="reconcile_xlsx"),
    path("new/", views.batch_new, name="new"),
    path("<int:pk>/", views.batch_detail, name="detail"),
    path("<int:pk>/release/", views.batch_release, name="release"),
    path("<int:pk>/export/", views.batch_export, name="export"),
    path("<int:pk>/bank-file", views.batch_download, name="download"),
    path("<int:pk>/return/", views.batch_return, name="return"),
    path("lines/<int:pk>/correct/", views.line_correct, name="correct"),
]
