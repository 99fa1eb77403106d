from django.urls import path

from huimin.payments import batch_views, recovery_views, views

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
    # recoveries (追回管理)
    path("recoveries/", recovery_views.recovery_list, name="recoveries"),
    path("recoveries/export/", recovery_views.recovery_export, name="recoveries_export"),
    path("recoveries/<int:pk>/", recovery_views.recovery_detail, name="recovery"),
    path("recoveries/<int:pk>/repay/", recovery_views.recovery_repay, name="recovery_repay"),
    path("recoveries/<int:pk>/offset/", recovery_views.recovery_offset, name="recovery_offset"),
    path("recoveries/<int:pk>/write-off/", recovery_views.recovery_write_off,
         name="recovery_write_off"),
    path("recoveries/<int:pk>/write-offs/<int:mv>/approve/", recovery_views.recovery_approve,
         name="recovery_approve"),
    path("recoveries/<int:pk>/write-offs/<int:mv>/decline/", recovery_views.recovery_decline,
         name="recovery_decline"),
    # lists (huimin.listing)
    path("cycles/", views.cycle_list, name="cycles"),
    path("cycles/export/", views.cycle_export, name="cycles_export"),
    path("batches/export/", views.batch_list_export, name="batches_export"),
    # bank files: another layout or cancel, the statement (对账单), the roster (花名册)
    path("<int:pk>/relayout/", batch_views.batch_relayout, name="relayout"),
    path("<int:pk>/cancel/", batch_views.batch_cancel, name="cancel"),
    path("<int:pk>/statement/", batch_views.batch_statement, name="statement"),
    path("<int:pk>/roster.pdf", batch_views.batch_roster, name="roster"),
]
