from django.apps import AppConfig


class FrontConfig(AppConfig):
    name = "huimin.front"
    label = "front"
    verbose_name = "工作台"
