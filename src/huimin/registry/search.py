"""Looking persons up by name or identity number, and what a search leaves in the audit log.

An identity number never travels in a URL (server logs keep every query string): names are
searched with GET, numbers only in a POST body. The audit row of a search by number keeps
the number's keyed hash and its mask, never the number.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.db.models import QuerySet

from huimin.accounts.access import persons_for
from huimin.audit.events import actor_area_code, record
from huimin.errors import ActionError
from huimin.lib.masking import mask_id_number
from huimin.registry.crypto import id_hash
from huimin.registry.models import Person

#: a run of digits this long in a GET query is taken for (part of) an identity number
_DIGIT_RUN = re.compile(r"\d{6,}")
_ID_NUMBER = re.compile(r"[0-9]{17}[0-9X]")
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
    return qs.filter(name__contains=q) if q else qs


def by_id_number(user: Any, value: str, *, via: str) -> list[Person]:
    """The person (none or one) in the user's areas with this identity number. The search
    is logged with the number's keyed hash and mask."""
    number = normalise_id(value)
    digest = id_hash(number)
    found = list(persons_for(user).filter(id_hash=digest))
    record(user, "person.search", user, area_code=actor_area_code(user), by="id_number",
           id_masked=mask_id_number(number), id_hash=digest, found=len(found), via=via)
    return found
