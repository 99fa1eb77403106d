from django.apps import AppConfig


class ProgramsConfig(AppConfig):
    name = "huimin.programs"
    verbose_name = "项目"
