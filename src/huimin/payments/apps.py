from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "huimin.payments"
    verbose_name = "发放"
