from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "huimin.reports"
    verbose_name = "统计"
