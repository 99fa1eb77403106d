from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "huimin.registry"
    verbose_name = "人口登记"
