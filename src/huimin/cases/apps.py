from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "huimin.cases"
    verbose_name = "案件"
