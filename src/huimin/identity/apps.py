from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "huimin.identity"
    verbose_name = "身份查重"

    def ready(self) -> None:
        from huimin.identity import hooks

        hooks.connect()
