from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "huimin.accounts"
    verbose_name = "账户与权限"

    def ready(self) -> None:
        from huimin.accounts import checks, signals  # noqa: F401  (registers them)
