from __future__ import annotations

from django import template

from huimin.lib.money import format_yuan

register = template.Library()


@register.filter
def yuan(fen: int | None) -> str:
    return "" if fen is None else format_yuan(int(fen))


@register.filter
def yuan_num(fen: int | None) -> str:
    """A yuan amount without its unit, for a column headed 金额（元）: 360000 -> '3,600.00'."""
    return "" if fen is None else format_yuan(int(fen)).removesuffix(" 元")


@register.filter
def age(born: object, on: object = None) -> str:
    """The age of a birth date, today or on a given day (``{{ p.birth_date|age }}``), shown
    instead of the date wherever the full date is not needed."""
    from datetime import date

    from django.utils import timezone

    from huimin.lib.masking import age_label

    if not isinstance(born, date):
        return ""
    return age_label(born, on if isinstance(on, date) else timezone.localdate())


@register.filter
def get(mapping: object, key: object) -> object:
    """``mapping|get:key`` — a value of a dict by a variable key ("" if absent)."""
    if isinstance(mapping, dict):
        return mapping.get(key, "")
    return ""


@register.filter
def plain_facts(detail: str) -> str:
    """A criterion's explanation without its empty facts (死亡日期：空 says nothing about a
    family), as the decision letter reads it; the stored explanation keeps them."""
    from huimin.cases.letters import plain

    return plain(str(detail))
