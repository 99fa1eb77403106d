"""A bank-file layout document with a mistake is refused with a message naming the file and
the key (``huimin.payments.bankfile.parse_layout``); the sample layouts all load."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from huimin.payments import bankfile
from huimin.payments.bankfile import LayoutError, parse_layout

GOOD: dict[str, Any] = yaml.safe_load(
    (bankfile.LAYOUT_DIR / "standard-csv.yaml").read_text(encoding="utf-8"))


def broken(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(GOOD)
    for key, value in changes.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


@pytest.mark.parametrize(("doc", "message"), [
    (["not", "a", "mapping"], "x.yaml：格式定义须为映射"),
    (broken(format="pdf"), "x.yaml：format 须为 csv 或 xlsx"),
    (broken(columns=[]), "x.yaml columns：须为非空列表"),
    (broken(columns="reference"), "x.yaml columns：须为非空列表"),
    (broken(columns=[{"field": "reference"}, {"field": "reference"}]), "x.yaml columns：字段重复"),
    (broken(return_columns=[{"field": "reference"}, {"field": "account"}]),
     "x.yaml return_columns：缺少 amount、result"),
    (broken(columns=[{"field": "account"}, {"field": "amount"}]),
     "x.yaml columns：须含流水号 reference"),
    (broken(results={"paid": ["成功"], "failed": ["失败"]}),
     "x.yaml results：paid、failed、returned 各须至少一个词"),
    (broken(results=None), "x.yaml results：paid、failed、returned 各须至少一个词"),
])
def test_a_broken_layout_is_refused(doc: Any, message: str) -> None:
    with pytest.raises(LayoutError) as info:
        parse_layout(doc, "x.yaml")
    assert str(info.value).startswith(message)


def test_the_sample_layouts_load_with_their_content_types() -> None:
    assert parse_layout(GOOD, "standard-csv.yaml").code == GOOD["code"]
    by_code = bankfile.layouts()
    assert by_code["abc-xlsx"].content_type == bankfile.XLSX_TYPE
    assert by_code["rcc-gbk-csv"].content_type == "text/csv; charset=gbk"
