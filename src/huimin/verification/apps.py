from django.apps import AppConfig


class VerificationConfig(AppConfig):
    name = "huimin.verification"
    verbose_name = "数据比对"

    def ready(self) -> None:
        from huimin.verification import receivers

        receivers.connect()
