"""The Splink model: comparisons, blocking rules, and the stored, versioned parameters.

The parameters (m and u of every level, the prior) live in ``model-v<N>.json`` beside this
file: ``{"version": ..., "trained": {...how...}, "splink": <Splink settings dict>}``. A new
version is trained with ``python -m huimin.identity.match.train`` and committed; a pair's
score always names the version that produced it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import splink.comparison_level_library as cll
from splink import SettingsCreator
from splink.internals.blocking_rule_creator import BlockingRuleCreator
from splink.internals.blocking_rule_library import CustomRule
from splink.internals.comparison_library import CustomComparison

MODEL_VERSION = "v2"
MODEL_PATH = Path(__file__).resolve().parent / f"model-{MODEL_VERSION}.json"

#: comparison → (level key, Chinese description), in the order of the model's levels,
#: null level first where there is one; the keys are the CLI's level values
LEVELS: dict[str, list[tuple[str, str]]] = {
    "id": [("missing", "一方无身份证号码"), ("exact", "号码相同（含 15 位换算）"),
           ("typo", "一方校验位不符且仅差一两位：像是录错"),
           ("two_valid", "两个不同的有效号码：通常是两个人"), ("other", "号码不同")],
    "name": [("missing", "一方无姓名"), ("exact", "姓名相同（繁简、异体已归一）"),
             ("homophone", "同音（拼音相同）"), ("dropped", "漏一个字"),
             ("one_char", "错一个字"), ("similar", "读音相近"), ("other", "姓名不同")],
    "birth": [("missing", "一方无出生日期"), ("exact", "出生日期相同"),
              ("swapped", "月、日颠倒"), ("one_digit", "差一位数字"),
              ("same_year", "同年"), ("other", "出生日期不同")],
    "sex": [("missing", "一方无性别"), ("exact", "性别相同"), ("other", "性别不同")],
    "area": [("missing", "一方无户籍地"), ("village", "同村"), ("township", "同乡镇不同村"),
             ("county", "同县不同乡镇"), ("other", "不同县")],
}
LABELS_ZH = {"id": "身份证号码", "name": "姓名", "birth": "出生日期", "sex": "性别",
             "area": "户籍地"}

BLOCKING = [
    "l.id18 = r.id18",
    "l.birth_date = r.birth_date AND l.sex = r.sex",
    "l.name_py = r.name_py AND l.b_year = r.b_year",
]


def _null(a: str) -> str:
    return f"{a}_l IS NULL OR {a}_r IS NULL"


def comparisons() -> list[CustomComparison]:
    lv = cll.CustomLevel

    def null(col: str) -> Any:
        return lv(_null(col), "missing").configure(is_null_level=True)

    return [
        CustomComparison([
            null("id18"),
            lv("id18_l = id18_r", "exact"),
            lv("(NOT id_ok_l OR NOT id_ok_r) AND damerau_levenshtein(id18_l, id18_r) <= 2",
               "typo"),
            lv("id_ok_l AND id_ok_r", "two_valid"),
            cll.ElseLevel(),
        ], output_column_name="id"),
        CustomComparison([
            null("name_f"),
            lv("name_f_l = name_f_r", "exact"),
            lv("name_py_l = name_py_r", "homophone"),
            lv("abs(length(name_f_l) - length(name_f_r)) = 1 "
               "AND levenshtein(name_f_l, name_f_r) = 1", "dropped"),
            lv("levenshtein(name_f_l, name_f_r) = 1", "one_char"),
            lv("jaro_winkler_similarity(name_py_l, name_py_r) >= 0.9", "similar"),
            cll.ElseLevel(),
        ], output_column_name="name"),
        CustomComparison([
            null("birth_date"),
            lv("birth_date_l = birth_date_r", "exact"),
            lv("b_year_l = b_year_r AND b_month_l = b_day_r AND b_day_l = b_month_r",
               "swapped"),
            lv("damerau_levenshtein(bd_l, bd_r) <= 1", "one_digit"),
            lv("b_year_l = b_year_r", "same_year"),
            cll.ElseLevel(),
        ], output_column_name="birth"),
        CustomComparison([
            null("sex"), lv("sex_l = sex_r", "exact"), cll.ElseLevel(),
        ], output_column_name="sex"),
        CustomComparison([
            null("village"),
            lv("village_l = village_r", "village"),
            lv("township_l = township_r", "township"),
            lv("county_l = county_r", "county"),
            cll.ElseLevel(),
        ], output_column_name="area"),
    ]


def block_on_sql(sql: str) -> BlockingRuleCreator:
    return CustomRule(sql)


def settings_creator(link_type: str = "dedupe_only") -> SettingsCreator:
    return SettingsCreator(
        link_type=link_type,  # type: ignore[arg-type]
        comparisons=list(comparisons()),
        blocking_rules_to_generate_predictions=[block_on_sql(b) for b in BLOCKING],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=True,
        probability_two_random_records_match=1e-6,
    )


@lru_cache(maxsize=4)
def stored(path: Path = MODEL_PATH) -> dict[str, Any]:
    """The stored model: version, how it was trained, and the Splink settings dict."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def splink_settings(link_type: str = "dedupe_only", path: Path = MODEL_PATH) -> dict[str, Any]:
    """The stored Splink settings for a link type (a fresh copy the caller may change)."""
    settings: dict[str, Any] = json.loads(json.dumps(stored(path)["splink"]))
    settings["link_type"] = link_type
    settings.pop("linker_uid", None)
    return settings
