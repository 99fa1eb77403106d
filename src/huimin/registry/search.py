"""Looking persons up by name or identity number, and what a search leaves in the audit log.

An identity number never travels in a URL (server logs keep every query string): names are
searched with GET, numbers only in a POST body. The audit row of a search by number keeps
the number's keyed hash and its mask, never the number.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.db import connections
from django.db.models import F, Func, QuerySet, TextField

from huimin.accounts.access import persons_for
from huimin.audit.events import actor_area_code, record
from huimin.errors import ActionError
from huimin.lib.masking import mask_id_number
from huimin.registry.crypto import id_hash
from huimin.registry.models import Person

#: a run of digits this long in a GET query is taken for (part of) an identity number
_DIGIT_RUN = re.compile(r"\d{6,}")
_ID_NUMBER = re.compile(r"[0-9]{17}[0-9X]")
#: names are searched by their characters (index ``person_name_chars``) below this length,
#: where the trigram index ``person_name_trgm`` has no trigram to look up
TRIGRAM_MIN = 3


class NameChars(Func):
    """The characters of a name as a text array (PostgreSQL), the expression of the GIN
    index ``person_name_chars`` (registry migration 0008)."""

    template = "string_to_array(%(expressions)s, NULL)"

    def __init__(self, field: str) -> None:
        from django.contrib.postgres.fields import ArrayField

        super().__init__(F(field), output_field=ArrayField(TextField()))


def name_contains(qs: QuerySet[Any], q: str, field: str = "name") -> QuerySet[Any]:
    """``qs`` where ``field`` (a person's name, or a path to one) contains ``q``.

    On PostgreSQL a query of one or two characters (most Chinese names are two) also asks
    that the name hold each of its characters, which the GIN index of names' characters
    answers in milliseconds; the ``LIKE`` keeps the meaning exact (order and adjacency).
    Longer queries are served by the trigram index."""
    found = qs.filter(**{f"{field}__contains": q})
    if q and len(q) < TRIGRAM_MIN and connections[qs.db].vendor == "postgresql":
        chars = sorted(set(q))
        found = found.alias(_name_chars=NameChars(field)).filter(_name_chars__contains=chars)
    return found


GET_ID_REFUSED = ("查询条件：身份证号码不能放在网址中，请用「按身份证号码查询」"
                  "（POST 提交）查询")


def looks_like_id(value: str) -> bool:
    """Whether a query holds what may be an identity number (6 or more digits in a row, in
    any script's digits)."""
    return bool(_DIGIT_RUN.search(unicodedata.normalize("NFKC", value)))


def normalise_id(value: str) -> str:
    """The identity number as stored (ASCII digits, upper-case X); a clear refusal
    otherwise."""
    number = unicodedata.normalize("NFKC", value).strip().replace(" ", "").upper()
    if not _ID_NUMBER.fullmatch(number):
        raise ActionError("身份证号码：应为 18 位（17 位数字和 1 位校验码，校验码可为 X）")
    return number


def by_name(user: Any, q: str) -> QuerySet[Person]:
    """Persons in the user's areas whose name contains ``q`` (refused if ``q`` looks like
    an identity number: numbers are searched with :func:`by_id_number`)."""
    if looks_like_id(q):
        raise ActionError(GET_ID_REFUSED)
    qs = persons_for(user).filter(merged_into=None)  # a merged duplicate left the register
    return name_contains(qs, q) if q else qs


def by_id_number(user: Any, value: str, *, via: str) -> list[Person]:
    """The person (none or one) in the user's areas with this identity number. The search
    is logged with the number's keyed hash and mask."""
    number = normalise_id(value)
    digest = id_hash(number)
    found = list(persons_for(user).filter(id_hash=digest))
    record(user, "person.search", user, area_code=actor_area_code(user), by="id_number",
           id_masked=mask_id_number(number), id_hash=digest, found=len(found), via=via)
    return found
