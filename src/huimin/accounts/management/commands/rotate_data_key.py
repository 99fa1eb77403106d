"""``huimin manage rotate_data_key --new-key-file FILE``: re-seal under a new data key."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from huimin.accounts.keys import rotate_data_key
from huimin.accounts.models import User


class Command(BaseCommand):
    help = ("用新的数据密钥重新加密全部身份证号码和银行账号，并重建检索哈希（一个事务）。"
            "先停止网页服务和后台任务；完成后把 HUIMIN_DATA_KEY 改为新密钥再启动。")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--new-key-file", type=Path,
                            help="存放新密钥的文件（默认读环境变量 HUIMIN_NEW_DATA_KEY）")
        parser.add_argument("--actor", default="", help="记入审计日志的操作用户名")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path | None = options["new_key_file"]
        if path is not None:
            try:
                new_key = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise CommandError(f"无法读取新密钥文件 {path}：{exc}") from None
        else:
            new_key = os.environ.get("HUIMIN_NEW_DATA_KEY", "").strip()
        if not new_key:
            raise CommandError("未提供新密钥：用 --new-key-file 或环境变量 HUIMIN_NEW_DATA_KEY")
        actor = None
        if options["actor"]:
            actor = User.objects.filter(username=options["actor"]).first()
            if actor is None:
                raise CommandError(f"用户 {options['actor']} 不存在")
        try:
            summary = rotate_data_key(new_key, actor=actor)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"已用新密钥（指纹 {summary['new_key']}）重新加密 {summary['persons']} 个身份证号码、"
            f"{summary['bank_accounts']} 个银行账号；旧密钥指纹 {summary['old_key']}。\n"
            "现在把 HUIMIN_DATA_KEY 改为新密钥，再启动网页服务和后台任务。")
