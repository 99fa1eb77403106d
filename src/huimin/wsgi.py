import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huimin.settings")
application = get_wsgi_application()


def _refuse_development_keys() -> None:
    """A WSGI server runs no system checks: run the key checks here and refuse to start."""
    from django.core import checks
    from django.core.exceptions import ImproperlyConfigured

    from huimin.accounts.checks import TAG

    errors = [e for e in checks.run_checks(tags=[TAG]) if e.is_serious()]
    if errors:
        raise ImproperlyConfigured("; ".join(f"{e.id}: {e.msg}" for e in errors))


_refuse_development_keys()
