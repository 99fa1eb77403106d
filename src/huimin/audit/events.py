"""Writing audit events. Call inside the transaction of the change being recorded."""

from __future__ import annotations

from typing import Any

from huimin.audit.models import AuditEvent

ACTION_LABELS = {
    "person.view": "查看人员档案",
    "person.create": "登记人员",
    "registry.import": "导入登记数据",
    "case.submit": "受理申请",
    "case.village_review": "村级审核通过",
    "case.township_review": "乡镇审核通过",
    "case.county_confirm": "县级审批（确认）通过",
    "case.reject": "不予通过",
    "case.return": "退回补正",
    "case.resubmit": "补正后重新提交",
    "case.reopen": "申请复核，重新审核",
    "case.send_back": "公示异议成立，退回重审",
    "case.posted": "列入公示",
    "case.document": "上传申请材料",
    "case.document_view": "查看申请材料",
    "case.letter": "打印审核决定书",
    "objection.record": "登记公示异议",
    "objection.resolve": "核实公示异议",
    "notice.publish": "发布公示",
    "notice.print": "打印公示",
    "person.add_account": "登记银行账户",
    "registry.id_elsewhere": "尝试登记辖区外已登记的身份证号码（被拒）",
    "audit.search": "查询审计日志",
    "case.add_to_batch": "纳入发放批次",
    "case.freeze": "纳入发放周期（冻结应发）",
    "case.paid": "发放成功",
    "case.payment_failed": "发放失败",
    "batch.create": "生成发放批次",
    "batch.export": "导出银行文件",
    "batch.download": "下载银行文件",
    "batch.import_return": "导入银行回盘",
    "batch.release": "审批放行发放批次",
    "programs.whatif": "政策测算",
    "registry.snapshot": "导出县登记快照（供规则计算）",
    "batch.recheck": "整批复核后重新发放",
    "cycle.build": "冻结发放周期应发名单",
    "case.approve": "审核通过",
    "case.payment_returned": "资金被银行退回",
    "payment.correct": "更正收款账户",
    "payment.overpaid": "登记多发应追回款",
    "person.list": "查看人员名单",
    "person.search": "查询人员",
    "case.search": "按身份证号码查询案件",
    "case.view": "查看案件",
    "batch.view": "查看发放批次明细",
    "cycle.reconcile_view": "查看对账结果",
    "cycle.reconcile_export": "导出对账表",
    "account.create": "新建用户",
    "account.update": "修改用户信息",
    "account.role_change": "变更用户角色",
    "account.areas_change": "变更用户负责区域",
    "account.activate": "启用用户",
    "account.deactivate": "停用用户",
    "account.password_change": "修改本人密码",
    "account.password_reset": "重置用户密码",
    "account.totp_enrol": "绑定动态口令",
    "account.totp_change": "修改动态口令设备",
    "account.totp_remove": "解除动态口令绑定",
    "account.totp_verify": "动态口令验证通过",
    "account.totp_failed": "动态口令验证失败",
    "account.login": "登录成功",
    "account.login_failed": "登录失败",
    "account.logout": "退出登录",
    "account.lockout": "连续登录失败，账户锁定",
    "system.rotate_data_key": "更换数据加密密钥",
    # civil-data feeds (huimin.verification)
    "feed.import": "导入比对数据（死亡、迁移、出生、残疾证）",
    "feed.effect_propose": "比对数据提出处理事项（待确认）",
    "feed.effect_confirm": "确认比对处理事项",
    "feed.effect_dismiss": "驳回比对处理事项",
    "feed.token_issue": "签发数据接口令牌",
    "feed.token_revoke": "吊销数据接口令牌",
    "feed.rows_view": "查看比对数据明细",
    "case.stop": "停发（比对或变更登记确认）",
    "case.suspend": "暂停发放，重新核实",
    "case.resume": "恢复发放",
    "case.recalculate": "重新核定金额",
    "case.enrol": "自动纳入（免申即享）",
    # payments: holds and recoveries (payments/holds.py, payments/recoveries.py)
    "payment.hold": "暂停发放",
    "payment.hold_reason": "更改暂停原因",
    "payment.release": "恢复发放",
    "recovery.open": "登记应追回款",
    "recovery.repay": "登记追回退缴",
    "recovery.offset": "从后续应发中抵扣追回",
    "recovery.offset_reverse": "抵扣追回冲回",
    "recovery.write_off_request": "申请核销应追回款",
    "recovery.write_off": "审批核销应追回款",
    "recovery.write_off_decline": "驳回核销申请",
    "recovery.list": "查看追回台账",
    "recovery.view": "查看追回明细",
    "recovery.export": "导出追回台账",
    "payment.offset": "应发中抵扣追回款",
    "payment.offset_reverse": "应发抵扣冲回",
    # register changes (变更登记)
    "person.death": "登记死亡",
    "person.move": "迁移登记",
    "case.move": "案件随户籍迁移",
    "case.transfer_out": "迁出本县，案件移交",
    "case.account": "更换案件收款账户",
    "person.identity": "更正身份信息",
    "person.parent_link": "登记亲子关系",
    "person.parent_unlink": "解除亲子关系",
    "person.replace_account": "更换银行账户",
    "person.deactivate_account": "停用银行账户",
    "household.head": "变更户主",
    "household.member_add": "增加户成员",
    "household.member_remove": "减少户成员",
    "household.split": "分户",
    "household.merge": "合户",
    "change.submit": "提交变更申请",
    "change.confirm": "确认变更申请（生效）",
    "change.reject": "驳回变更申请",
    "change.evidence_view": "查看变更证明材料",
    "handover.download": "下载迁出移交记录",
    "handover.import": "导入迁入移交记录",
    # lists (huimin.listing)
    "list.export": "导出名单（Excel）",
    "person.export_unmasked": "导出含完整身份证号码的名单",
    # bank files (bankfiles): statements, stuck batches, the roster
    "batch.import_statement": "导入银行对账单（帐实相符）",
    "batch.relayout": "更换批次银行文件格式",
    "batch.cancel": "作废发放批次",
    "payment.unbatch": "批次作废，案件移出批次",
    "batch.roster": "查看发放花名册",
    "batch.check": "查看批次导出前检查",
    # identity resolution (查重)
    "identity.scan": "查重（疑似重复人员、重复申领）",
    "identity.pair_found": "发现疑似重复人员",
    "identity.pair_reopened": "数据变更后重新提出疑似重复",
    "identity.pair_cleared": "数据变更，撤销疑似重复提示",
    "identity.pair_decided": "裁决疑似重复人员",
    "identity.batch_decided": "批量裁决疑似重复",
    "identity.claim_found": "发现疑似重复申领",
    "identity.claim_decided": "裁定疑似重复申领",
    "identity.claim_cleared": "数据变更，撤销疑似重复申领提示",
    "identity.queue_view": "查看疑似重复列表",
    "person.merge": "合并重复人员记录",
}

#: events that stand for every line of a payment batch: its creation (each case put in it) and
#: each bank return imported (each case paid, failed or returned); a case's part is its line
BATCH_ACTIONS = ("batch.create", "batch.import_return")


def record(
    actor: Any,
    action: str,
    obj: Any,
    *,
    person_id: int | None = None,
    case_id: int | None = None,
    area_code: str = "",
    **data: Any,
) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        object_type=obj._meta.model_name,
        object_id=str(obj.pk),
        person_id=person_id,
        case_id=case_id,
        area_code=area_code,
        data=data,
    )


def event(
    actor: Any,
    action: str,
    obj: Any,
    *,
    person_id: int | None = None,
    case_id: int | None = None,
    area_code: str = "",
    **data: Any,
) -> AuditEvent:
    """An unsaved event, for bulk_create in batch work."""
    return AuditEvent(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        object_type=obj._meta.model_name,
        object_id=str(obj.pk),
        person_id=person_id,
        case_id=case_id,
        area_code=area_code,
        data=data,
    )


def record_view(actor: Any, person: Any) -> None:
    record(actor, "person.view", person, person_id=person.pk, area_code=person.area.code)


def actor_area_code(actor: Any) -> str:
    """The code prefix of the actor's (first) area: the scope of an event that names no
    person, so that the auditors of that area find it."""
    from huimin.accounts.access import area_prefixes

    prefixes = area_prefixes(actor)
    return prefixes[0] if prefixes else ""


def record_reads(actor: Any, action: str, persons: Any, **data: Any) -> None:
    """A list or search page's read of several persons' records: one event per person shown
    (so the auditor's search by person finds each), written in one insert."""
    AuditEvent.objects.bulk_create([
        event(actor, action, p, person_id=p.pk, area_code=p.area.code, **data)
        for p in persons])
