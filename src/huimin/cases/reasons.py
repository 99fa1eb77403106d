"""Reason codes of a decision not to approve, in the words a family reads in the letter."""

from __future__ import annotations

REJECT_REASONS: dict[str, str] = {
    "not_eligible": "经按政策规定核算，不符合享受条件（具体条件见下）",
    "facts_untrue": "申报情况与核实情况不符",
    "documents_missing": "经告知后仍未补齐必要的申请材料",
    "objection_upheld": "公示期间收到异议，经核实异议成立",
    "duplicate_benefit": "已在其他地区或项目享受同类待遇，不重复享受",
    "moved_or_deceased": "户籍已迁出本地或本人已去世",
    "other": "其他原因（见审核意见）",
}


#: codes a decision carries that are not reasons to refuse
DECISION_NOTES: dict[str, str] = {
    "documents_override": "缺少必交材料，审核人写明理由后继续审核",
}


def reason_labels(codes: list[str]) -> list[str]:
    return [REJECT_REASONS.get(c) or DECISION_NOTES.get(c, c) for c in codes]
