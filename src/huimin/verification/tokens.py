"""Tokens with which a source system posts events to the feed API. Only a hash is kept; the
token is shown once, when it is issued. Issuing and revoking are audited."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.db import transaction
from django.utils import timezone

from huimin.accounts.access import in_user_area
from huimin.audit.events import record
from huimin.errors import ActionError, Conflict, Forbidden
from huimin.registry.models import Area
from huimin.registry.validation import FieldError, check_text
from huimin.verification.models import FeedToken, Source

TOKEN_ROLES = ("county_approver", "admin")
PREFIX = "hmf_"


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@transaction.atomic
def issue_token(actor: Any, *, label: str, source: str, area: Area) -> tuple[FeedToken, str]:
    """A new token for ``source`` limited to ``area``; returns it and the secret (shown once)."""
    if getattr(actor, "role", None) not in TOKEN_ROLES:
        raise Forbidden("只有县级审批员可以签发数据接口令牌")
    if not in_user_area(actor, area.code):
        raise Forbidden(f"{area.name} 不在您的管辖范围内")
    if source not in Source.values:
        raise ActionError(f"数据来源：应为 {'、'.join(Source.values)} 之一")
    try:
        label = check_text(label, "名称", 100)
    except FieldError as exc:
        raise ActionError(f"{exc.column}：{exc.reason}") from None
    raw = PREFIX + secrets.token_urlsafe(32)
    token = FeedToken.objects.create(token_hash=token_hash(raw), prefix=raw[:12], label=label,
                                     source=source, area=area, issued_by=actor)
    record(actor, "feed.token_issue", token, area_code=area.code, label=label, source=source,
           prefix=token.prefix)
    return token, raw


@transaction.atomic
def revoke_token(actor: Any, token: FeedToken) -> FeedToken:
    if getattr(actor, "role", None) not in TOKEN_ROLES:
        raise Forbidden("只有县级审批员可以吊销数据接口令牌")
    if not in_user_area(actor, token.area.code):
        raise Forbidden("该令牌不在您的管辖范围内")
    locked = FeedToken.objects.select_for_update().get(pk=token.pk)
    if locked.revoked_at is not None:
        raise Conflict("该令牌已吊销")
    locked.revoked_at, locked.revoked_by = timezone.now(), actor
    locked.save(update_fields=["revoked_at", "revoked_by"])
    record(actor, "feed.token_revoke", locked, area_code=locked.area.code, label=locked.label,
           prefix=locked.prefix)
    return locked


def authenticate(raw: str) -> FeedToken | None:
    """The live token with this secret, or None (unknown or revoked)."""
    if not raw or not raw.startswith(PREFIX) or len(raw) > 100:
        return None
    token = (FeedToken.objects.select_related("area")
             .filter(token_hash=token_hash(raw), revoked_at__isnull=True).first())
    return token
