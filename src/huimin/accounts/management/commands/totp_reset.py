"""``huimin manage totp_reset USERNAME``: remove a user's TOTP devices (a lost phone)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_otp.plugins.otp_totp.models import TOTPDevice

from huimin.accounts import actions
from huimin.accounts.models import User


class Command(BaseCommand):
    help = "解除用户的动态口令绑定（手机丢失或更换）：该用户下次登录时重新扫码绑定。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--actor", default="", help="记入审计日志的操作用户名")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"用户 {options['username']} 不存在")
        actor = User.objects.filter(username=options["actor"]).first() if options["actor"] \
            else None
        if options["actor"] and actor is None:
            raise CommandError(f"用户 {options['actor']} 不存在")
        devices = list(TOTPDevice.objects.filter(user=user))
        for device in devices:
            actions.remove_totp(actor, device, via="command")
        self.stdout.write(f"已解除 {user.username} 的 {len(devices)} 个动态口令设备。")
