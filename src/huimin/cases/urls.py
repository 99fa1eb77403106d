from django.urls import path

from huimin.cases import views

app_name = "cases"
urlpatterns = [
    path("", views.case_list, name="list"),
    path("new/", views.case_new, name="new"),
    path("bulk/", views.bulk_intake, name="bulk"),
    path("bulk/template.xlsx", views.bulk_template, name="bulk_template"),
    path("<int:pk>/", views.case_detail, name="detail"),
    path("<int:pk>/act/", views.case_act, name="act"),
    path("<int:pk>/resume/", views.case_resume, name="resume"),
    path("<int:pk>/stop/", views.case_stop, name="stop"),
    path("<int:pk>/documents/", views.document_upload, name="upload"),
    path("<int:pk>/documents/<int:doc_id>/", views.document_view, name="document"),
    path("<int:pk>/objections/", views.objection_new, name="objection"),
    path("<int:pk>/letter/", views.letter, name="letter"),
    path("objections/<int:pk>/resolve/", views.objection_resolve, name="objection_resolve"),
    path("export/", views.case_export, name="export"),
]
