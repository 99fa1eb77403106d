from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "huimin.audit"
    verbose_name = "审计"
