"""The register's lists (persons, households) declared for :mod:`huimin.listing`, and the
search by identity number — the whole number or its last four characters — that the
person and case lists share (a POST body only: no number is kept in a URL)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.db.models import Q, QuerySet

from huimin.accounts.access import area_prefixes
from huimin.accounts.models import Role
from huimin.errors import ActionError
from huimin.lib.masking import age_label, mask_id_number
from huimin.listing import Column, Filter, ListSpec, ParamError, Sort
from huimin.registry.crypto import id_hash, id_last4_hash
from huimin.registry.models import HukouType, Sex
from huimin.registry.search import name_contains, normalise_id

_LAST4 = re.compile(r"[0-9]{3}[0-9X]")
ID_HELP = "身份证号码：请输入完整的 18 位号码，或号码的后 4 位（最后一位可为 X）"
NAME_DIGITS = ("姓名：不能含数字；身份证号码（或其后 4 位）不能放在网址中，"
               "请用「按身份证号码查询」（随表单提交）")


def id_filter(user: Any, value: str, field: str = "") -> tuple[Q, dict[str, str]]:
    """A filter for an identity number typed in a form: the whole number (keyed hash
    equality) or its last four (the keyed hash of the last four within each of the user's
    counties); and what the audit event keeps of it (mask and hash, never the number)."""
    text = unicodedata.normalize("NFKC", value).strip().replace(" ", "").upper()
    if _LAST4.fullmatch(text):
        counties = sorted({p[:6] for p in area_prefixes(user)})
        hashes = [id_last4_hash(text, c) for c in counties]
        return Q(**{f"{field}id_last4_hash__in": hashes}), {"id_last4": "***"}
    try:
        number = normalise_id(text)
    except ActionError:
        raise ParamError(ID_HELP) from None
    digest = id_hash(number)
    return Q(**{f"{field}id_hash": digest}), {"id_masked": mask_id_number(number),
                                              "id_hash": digest}


def _name_search(qs: QuerySet[Any], q: str) -> QuerySet[Any]:
    if any(ch.isdigit() for ch in q):
        raise ParamError(NAME_DIGITS)
    return name_contains(qs, q)


def _status(user: Any) -> list[tuple[str, str]]:
    return [("living", "在册"), ("dead", "已故"), ("moved", "已迁出"),
            ("merged", "已并入他人记录（重复记录）")]


def status_q(value: str) -> Q:
    return {"living": Q(death_date=None, moved_out_on=None, merged_into=None),
            "dead": ~Q(death_date=None), "moved": ~Q(moved_out_on=None),
            "merged": ~Q(merged_into=None)}[value]


def on_register(qs: QuerySet[Any], params: Any) -> QuerySet[Any]:
    """The person list without the duplicate records merged into another (they left the
    register), unless those are asked for (状态：已并入他人记录)."""
    return qs if params.get("status") == "merged" else qs.filter(merged_into=None)


def _today() -> Any:
    from django.utils import timezone

    return timezone.localdate()


PERSONS = ListSpec(
    name="persons",
    title="人口登记",
    search_label="姓名",
    search=_name_search,
    filters=(
        Filter("area", "区域", "area", "area__code"),
        Filter("sex", "性别", "choice", "sex", choices=lambda u: Sex.choices),
        Filter("hukou", "户籍性质", "choice", "hukou_type", choices=lambda u: HukouType.choices),
        Filter("status", "状态", "choice", "", choices=_status, q=lambda v: status_q(v)),
        Filter("from", "登记日期起", "date_from", "created_at", is_datetime=True),
        Filter("to", "登记日期止", "date_to", "created_at", is_datetime=True),
    ),
    sorts=(
        Sort("area", "户籍地", ("area__code", "household_id", "id")),
        Sort("name", "姓名", ("name", "id")),
        Sort("-created", "登记时间（最新在前）", ("-created_at", "-id")),
        Sort("created", "登记时间（最早在前）", ("created_at", "id")),
    ),
    default_sort="area",
    columns=(
        Column("姓名", lambda p: p.name),
        Column("身份证号码", lambda p: p.id_masked, lambda p: p.id_number),
        Column("性别", lambda p: p.get_sex_display()),
        Column("年龄", lambda p: "" if p.death_date else age_label(p.birth_date, _today())),
        Column("户籍地", lambda p: p.area.full_name()),
        Column("户籍性质", lambda p: p.get_hukou_type_display()),
        Column("户号", lambda p: p.household.number if p.household_id else ""),
        Column("状态", lambda p: f"已并入人员 {p.merged_into_id}" if p.merged_into_id
               else "已故" if p.death_date else "已迁出" if p.moved_out_on else "在册"),
    ),
    only=("id", "name", "id_masked", "sex", "birth_date", "area__code", "area__name",
          "area__level", "area__parent", "hukou_type", "death_date", "moved_out_on",
          "merged_into", "household", "created_at"),
    #: the county approver checks a county's register against other departments' data
    unmask_roles=frozenset({Role.COUNTY_APPROVER}),
)


def _household_search(qs: QuerySet[Any], q: str) -> QuerySet[Any]:
    if len(q) > 40:
        raise ParamError("户号或户主姓名：不超过 40 个字符")
    return qs.filter(Q(number__contains=q) | Q(head__name__contains=q))


HOUSEHOLDS = ListSpec(
    name="households",
    title="户籍档案",
    search_label="户号或户主姓名",
    search=_household_search,
    filters=(
        Filter("area", "区域", "area", "area__code"),
        Filter("hukou", "户籍性质", "choice", "hukou_type", choices=lambda u: HukouType.choices),
        Filter("from", "建档日期起", "date_from", "created_at", is_datetime=True),
        Filter("to", "建档日期止", "date_to", "created_at", is_datetime=True),
    ),
    sorts=(
        Sort("number", "户号", ("number", "id")),
        Sort("-created", "建档时间（最新在前）", ("-created_at", "-id")),
    ),
    default_sort="number",
    columns=(
        Column("户号", lambda h: h.number),
        Column("户主", lambda h: h.head.name if h.head_id else ""),
        Column("户籍地", lambda h: h.area.full_name()),
        Column("户籍性质", lambda h: h.get_hukou_type_display()),
    ),
)
