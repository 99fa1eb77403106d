"""Changes to user accounts, each in one transaction with an audit event.

The admin, the account pages and the commands call these. A change made around them (a Django
command such as ``changepassword`` or ``createsuperuser``, the shell) is still recorded by the
signal handlers in ``accounts.signals``, without an actor.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterable, Iterator
from typing import Any

from django.contrib.auth import password_validation
from django.db import transaction

from huimin.accounts.models import User
from huimin.audit.models import AuditEvent

#: set while an action records its own events, so the signal handlers stay silent
_recording: contextvars.ContextVar[bool] = contextvars.ContextVar("huimin_accounts_recording",
                                                                  default=False)

#: fields whose change is recorded as ``account.update`` (role, areas, activity and the
#: password have events of their own)
PLAIN_FIELDS = ("username", "display_name", "first_name", "last_name", "email", "is_staff",
                "is_superuser")


@contextlib.contextmanager
def recording() -> Iterator[None]:
    token = _recording.set(True)
    try:
        yield
    finally:
        _recording.reset(token)


def is_recording() -> bool:
    return _recording.get()


def audit(actor: Any, action: str, subject: User | None, **data: Any) -> AuditEvent:
    """An account event; the subject may be unknown (a failed login for a name not found)."""
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        object_type="user",
        object_id=str(subject.pk) if subject is not None and subject.pk else "",
        data=data,
    )


def snapshot(user: User) -> dict[str, Any]:
    """What the audit compares: the fields, the areas, the groups and the password hash (the
    hash only tells that the password changed; it is never written to an event)."""
    return {
        **{f: getattr(user, f) for f in PLAIN_FIELDS},
        "role": user.role,
        "is_active": user.is_active,
        "areas": sorted(user.areas.values_list("code", flat=True)) if user.pk else [],
        "groups": sorted(user.groups.values_list("name", flat=True)) if user.pk else [],
        "password": user.password,
    }


def stored_snapshot(user: User) -> dict[str, Any] | None:
    """The snapshot of the user as stored now (None for a new user)."""
    if user.pk is None:
        return None
    stored = User.objects.filter(pk=user.pk).first()
    return snapshot(stored) if stored is not None else None


def record_changes(actor: Any, user: User, before: dict[str, Any], after: dict[str, Any],
                   *, via: str) -> list[AuditEvent]:
    """One event for each kind of change between two snapshots, with old and new values."""
    events = []
    if before["role"] != after["role"]:
        events.append(audit(actor, "account.role_change", user, username=user.username,
                            old=before["role"], new=after["role"], via=via))
    if before["areas"] != after["areas"]:
        old, new = set(before["areas"]), set(after["areas"])
        events.append(audit(actor, "account.areas_change", user, username=user.username,
                            old=before["areas"], new=after["areas"],
                            added=sorted(new - old), removed=sorted(old - new), via=via))
    if before["is_active"] != after["is_active"]:
        events.append(audit(actor, "account.activate" if after["is_active"]
                            else "account.deactivate", user, username=user.username,
                            old=before["is_active"], new=after["is_active"], via=via))
    if before["password"] != after["password"]:
        own = getattr(actor, "pk", None) == user.pk
        events.append(audit(actor, "account.password_change" if own
                            else "account.password_reset", user, username=user.username,
                            via=via))
    changes = {f: [before[f], after[f]] for f in (*PLAIN_FIELDS, "groups")
               if before[f] != after[f]}
    if changes:
        events.append(audit(actor, "account.update", user, username=user.username,
                            changes=changes, via=via))
    return events


def record_created(actor: Any, user: User, *, via: str) -> AuditEvent:
    s = snapshot(user)
    return audit(actor, "account.create", user, username=user.username, role=s["role"],
                 areas=s["areas"], is_active=s["is_active"], is_staff=s["is_staff"],
                 is_superuser=s["is_superuser"], via=via)


@transaction.atomic
def create_user(actor: Any, *, username: str, password: str | None, role: str,
                areas: Iterable[Any] = (), display_name: str = "", via: str = "action",
                **extra: Any) -> User:
    """A new user with a validated password (None: no usable password) and its areas."""
    with recording():
        user = User(username=username, role=role, display_name=display_name, **extra)
        if password is None:
            user.set_unusable_password()
        else:
            password_validation.validate_password(password, user)
            user.set_password(password)
        user.save()
        user.areas.set(list(areas))
        record_created(actor, user, via=via)
    return user


_UNSET: Any = object()


@transaction.atomic
def update_user(actor: Any, user: User, *, role: str = _UNSET, areas: Iterable[Any] = _UNSET,
                is_active: bool = _UNSET, display_name: str = _UNSET,
                via: str = "action") -> list[AuditEvent]:
    """Change a user's role, areas, activity or name; one event per kind of change."""
    with recording():
        locked = User.objects.select_for_update().get(pk=user.pk)
        before = snapshot(locked)
        for field, value in (("role", role), ("is_active", is_active),
                             ("display_name", display_name)):
            if value is not _UNSET:
                setattr(locked, field, value)
        locked.save()
        if areas is not _UNSET:
            locked.areas.set(list(areas))
        return record_changes(actor, locked, before, snapshot(locked), via=via)


@transaction.atomic
def set_password(actor: Any, user: User, raw: str, *, via: str = "action") -> AuditEvent:
    """Set a password that passes the validators: ``account.password_change`` when users
    change their own, ``account.password_reset`` when another (an administrator) sets it."""
    password_validation.validate_password(raw, user)
    with recording():
        user.set_password(raw)
        user.save(update_fields=["password"])
        own = getattr(actor, "pk", None) == user.pk
        return audit(actor, "account.password_change" if own else "account.password_reset",
                     user, username=user.username, via=via)


@transaction.atomic
def enrol_totp(actor: Any, user: User, key: str, *, name: str = "身份验证器",
               via: str = "action") -> Any:
    """A confirmed TOTP device for the user, with its key (hex)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    with recording():
        device = TOTPDevice.objects.create(user=user, name=name, key=key, confirmed=True)
        audit(actor, "account.totp_enrol", user, username=user.username, device=device.pk,
              via=via)
    return device


@transaction.atomic
def remove_totp(actor: Any, device: Any, *, via: str = "action") -> AuditEvent:
    """Remove a TOTP device (a lost phone): the user enrols again at the next login."""
    user = device.user
    pk = device.pk
    with recording():
        device.delete()
        return audit(actor, "account.totp_remove", user, username=user.username, device=pk,
                     via=via)
