"""Audit of logins and of account changes made around ``accounts.actions``.

Logins (successful and failed, with the user name tried and never the password), logouts and
lockouts are recorded here. A change to a user that no action recorded (Django's
``createsuperuser`` and ``changepassword``, the shell) is recorded without an actor.
"""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_save, pre_save
from django.dispatch import receiver

from huimin.accounts import actions
from huimin.accounts.models import User


def _ip(request: Any) -> str:
    return str(getattr(request, "META", {}).get("REMOTE_ADDR", "")) if request else ""


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    actions.audit(user, "account.login", user, username=user.get_username(), ip=_ip(request))


@receiver(user_login_failed)
def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None,
                  **kwargs: Any) -> None:
    username = str(credentials.get("username", ""))[:150]
    subject = User.objects.filter(username=username).first() if username else None
    actions.audit(None, "account.login_failed", subject, username=username, ip=_ip(request))


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None and user.pk:
        actions.audit(user, "account.logout", user, username=user.get_username(),
                      ip=_ip(request))


@receiver(user_locked_out)
def _locked_out(sender: Any, request: Any = None, username: str | None = None,
                ip_address: str | None = None, **kwargs: Any) -> None:
    name = (username or "")[:150]
    subject = User.objects.filter(username=name).first() if name else None
    actions.audit(None, "account.lockout", subject, username=name, ip=ip_address or "")


@receiver(pre_save, sender=User)
def _before_save(sender: Any, instance: User, update_fields: Any = None, **kwargs: Any) -> None:
    if actions.is_recording() or kwargs.get("raw"):
        return
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    instance._huimin_before = actions.stored_snapshot(instance)  # type: ignore[attr-defined]


@receiver(post_save, sender=User)
def _after_save(sender: Any, instance: User, created: bool, **kwargs: Any) -> None:
    if actions.is_recording() or kwargs.get("raw"):
        return
    if created:
        actions.record_created(None, instance, via="direct")
        return
    before = instance.__dict__.pop("_huimin_before", None)
    if before is not None:
        actions.record_changes(None, instance, before, actions.snapshot(instance), via="direct")


@receiver(m2m_changed, sender=User.areas.through)
def _areas_changed(sender: Any, instance: Any, action: str, reverse: bool,
                   **kwargs: Any) -> None:
    if actions.is_recording() or reverse or not isinstance(instance, User):
        return
    if action in ("pre_add", "pre_remove", "pre_clear"):
        instance._huimin_areas = sorted(  # type: ignore[attr-defined]
            instance.areas.values_list("code", flat=True))
    elif action in ("post_add", "post_remove", "post_clear"):
        old = instance.__dict__.pop("_huimin_areas", [])
        new = sorted(instance.areas.values_list("code", flat=True))
        if old != new:
            actions.audit(None, "account.areas_change", instance, username=instance.username,
                          old=old, new=new, added=sorted(set(new) - set(old)),
                          removed=sorted(set(old) - set(new)), via="direct")
