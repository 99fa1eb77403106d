from django.urls import path

from huimin.registry import change_views, household_file, views

app_name = "registry"
urlpatterns = [
    path("persons/", views.person_list, name="persons"),
    path("persons/new/", views.person_new, name="person_new"),
    path("persons/<int:pk>/", views.person_detail, name="person"),
    path("households/<int:pk>/", views.household_detail, name="household"),
    path("households/<int:pk>/file.pdf", household_file.household_pdf, name="household_pdf"),
    path("import/", views.import_view, name="import"),
    path("import/template.<str:fmt>", views.import_template, name="template"),
    # register change requests (变更登记)
    path("persons/<int:pk>/changes/new/", change_views.person_change_new,
         name="person_change_new"),
    path("households/<int:pk>/changes/new/", change_views.household_change_new,
         name="household_change_new"),
    path("changes/", change_views.change_list, name="changes"),
    path("changes/preview/", change_views.change_bulk_preview, name="changes_preview"),
    path("changes/confirm/", change_views.change_bulk_confirm, name="changes_confirm"),
    path("changes/<int:pk>/", change_views.change_detail, name="change"),
    path("changes/<int:pk>/confirm/", change_views.change_confirm, name="change_confirm"),
    path("changes/<int:pk>/reject/", change_views.change_reject, name="change_reject"),
    path("changes/<int:pk>/evidence/", change_views.change_evidence, name="change_evidence"),
    path("handovers/<int:pk>.<str:fmt>", change_views.handover_download, name="handover"),
    path("handovers/import/", change_views.handover_import, name="handover_import"),
    # lists (huimin.listing): households, and the exports of the person and household lists
    path("persons/export/", views.person_export, name="persons_export"),
    path("households/", views.household_list, name="households"),
    path("households/export/", views.household_export, name="households_export"),
]
