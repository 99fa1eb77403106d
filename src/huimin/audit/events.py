"""Writing audit events. Call inside the transaction of the change being recorded."""

from __future__ import annotations

from typing import Any

from huimin.audit.models import AuditEvent

ACTION_LABELS = {
    "person.view": "查看人员档案",
    "person.create": "登记人员",
    "registry.import": "导入登记数据",
    "case.submit": "受理申请",
    "case.township_review": "乡镇初审",
    "case.county_confirm": "县级确认",
    "case.reject": "不予通过",
    "case.add_to_batch": "纳入发放批次",
    "case.paid": "发放成功",
    "case.payment_failed": "发放失败",
    "batch.create": "生成发放批次",
    "batch.export": "导出银行文件",
    "batch.import_return": "导入银行回盘",
}


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
