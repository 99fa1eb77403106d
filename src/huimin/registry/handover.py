"""The hand-over record of a person who moved out of the county (迁出移交), as JSON or XLSX
for the receiving county to import: the person as registered, the household, and each case
that ended on the move with its amounts and its review history.

The record carries the full identity number (the receiving office registers the person by
it), so it is offered only to the roles that register people, and each download is logged.
"""

from __future__ import annotations

import io
import json
from typing import Any

from huimin.cases.models import Case
from huimin.registry.models import Handover

FORMAT = "huimin-handover/1"
DOWNLOAD_ROLES = ("village_cadre", "township_reviewer", "county_approver", "admin")


def payload(handover: Handover) -> dict[str, Any]:
    person = handover.person
    hh = person.household
    cases = (Case.objects.filter(pk__in=handover.case_ids).select_related("program")
             .prefetch_related("decisions").order_by("id"))
    return {
        "format": FORMAT,
        "number": handover.number,
        "moved_on": handover.moved_on.isoformat(),
        "from_code": handover.from_code,
        "to_code": handover.to_code,
        "to_name": handover.to_name,
        "note": handover.note,
        "created_at": handover.created_at.isoformat(),
        "created_by": str(handover.created_by),
        "person": {
            "name": person.name, "id_number": person.id_number, "sex": person.sex,
            "birth_date": person.birth_date.isoformat(), "hukou_type": person.hukou_type,
            "household_number": hh.number if hh else "",
            "parents": [{"relation": link.relation, "name": link.parent.name}
                        for link in person.parent_links.select_related("parent")],
        },
        "cases": [{
            "number": c.number, "program": c.program.code, "program_name": c.program.name,
            "claim_year": c.claim_year, "eligible": c.eligible, "months": c.months,
            "amount_fen": c.amount_fen, "facts": c.facts, "stopped_on":
                c.stopped_on.isoformat() if c.stopped_on else None,
            "stop_reason": c.stop_reason,
            "history": [{"level": d.level, "outcome": d.outcome, "from": d.from_state,
                         "to": d.to_state, "comment": d.comment, "at": d.at.isoformat()}
                        for d in c.decisions.all()],
        } for c in cases],
    }


def as_json(handover: Handover) -> bytes:
    return json.dumps(payload(handover), ensure_ascii=False, indent=2).encode("utf-8")


def as_xlsx(handover: Handover) -> bytes:
    from openpyxl import Workbook

    from huimin.lib.cells import string_cells

    data = payload(handover)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("人员")
    p = data["person"]
    for row in [["移交编号", data["number"]], ["迁出日期", data["moved_on"]],
                ["迁出地区划代码", data["from_code"]], ["迁往区划代码", data["to_code"]],
                ["迁往地", data["to_name"]], ["姓名", p["name"]], ["身份证号码", p["id_number"]],
                ["性别", "男" if p["sex"] == "M" else "女"], ["出生日期", p["birth_date"]],
                ["户籍性质", "农业" if p["hukou_type"] == "rural" else "非农业"],
                ["原户号", p["household_number"]], ["格式", data["format"]]]:
        ws.append(string_cells(ws, row))
    cs = wb.create_sheet("移交案件")
    cs.append(string_cells(cs, ["案件号", "项目代码", "项目", "申领年度", "符合条件", "月数",
                                "金额（分）", "停发日期", "说明"]))
    for c in data["cases"]:
        cs.append(string_cells(cs, [c["number"], c["program"], c["program_name"],
                                    c["claim_year"], "是" if c["eligible"] else "否",
                                    c["months"], c["amount_fen"], c["stopped_on"] or "",
                                    c["stop_reason"]]))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
