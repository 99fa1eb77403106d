"""System checks: never run outside debug on the published development keys."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register

#: the tag these checks carry; ``huimin.wsgi`` runs them before it serves a request
TAG = "huimin_keys"


@register(TAG)
def development_keys(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """huimin.E001/E002: outside debug, the development secret or data key refuses to start,
    unless HUIMIN_DEV_KEYS=1 says this is a development or test run."""
    if settings.DEBUG or getattr(settings, "DEV_KEYS", False):
        return []
    errors = []
    if settings.SECRET_KEY == settings.DEV_SECRET_KEY:
        errors.append(Error(
            "HUIMIN_SECRET_KEY 未设置：正在使用公开的开发密钥，不能用于生产。",
            hint="设置 HUIMIN_SECRET_KEY（或 HUIMIN_SECRET_KEY_FILE）为至少 50 个随机字符；"
                 "仅在开发或测试时设置 HUIMIN_DEV_KEYS=1。",
            id="huimin.E001",
        ))
    if settings.DATA_KEY == settings.DEV_DATA_KEY:
        errors.append(Error(
            "HUIMIN_DATA_KEY 未设置：身份证号码和银行账号正用公开的开发密钥加密，不能用于生产。",
            hint="设置 HUIMIN_DATA_KEY（或 HUIMIN_DATA_KEY_FILE）为至少 32 个随机字符，"
                 "并与数据库备份分开保管；仅在开发或测试时设置 HUIMIN_DEV_KEYS=1。",
            id="huimin.E002",
        ))
    elif len(settings.DATA_KEY) < 32:
        errors.append(Error(
            "HUIMIN_DATA_KEY 过短：至少 32 个字符。",
            hint="用 `python -c 'import secrets; print(secrets.token_urlsafe(48))'` 生成。",
            id="huimin.E003",
        ))
    return errors
