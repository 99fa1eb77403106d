"""Chinese error pages (handler403/404/500 in ``huimin.urls``).

A page shows the reason the code gave only when it is one written for users: the Chinese
message of a ``PermissionDenied``, ``Http404`` or ``ActionError`` raised by huimin. Django's
own English messages (a URL that matched nothing, ``get_object_or_404``) and anything else
stay out, and no page ever shows a traceback. The 500 page asks the database nothing: it is
rendered without the request's context (no user, no session, no messages).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token

from huimin.errors import ActionError

logger = logging.getLogger(__name__)

CJK = re.compile(r"[\u4e00-\u9fff]")
REASON_MAX = 300
TITLES = {400: "请求无法办理", 403: "无权办理", 404: "找不到页面", 409: "情况已变化",
          500: "系统出错"}

#: served when even the 500 template cannot be rendered
BARE_500 = ("<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            "<title>系统出错 · 惠民家庭扶助管理系统</title></head><body>"
            "<h1>系统出错</h1><p>服务器处理您的请求时出错，已记录。请稍后再试；"
            "如仍不行，请联系系统管理员。</p><p><a href=\"/\">返回工作台</a></p></body></html>")


def reason(exc: BaseException | None) -> str:
    """The user-facing Chinese message of an exception huimin raised, or ""."""
    if isinstance(exc, ActionError):
        text: Any = exc.message
    elif isinstance(exc, (PermissionDenied, Http404)) and exc.args:
        text = exc.args[0]
    else:
        return ""
    if not isinstance(text, str) or not CJK.search(text):
        return ""
    clean = str(text).strip()
    return clean if len(clean) <= REASON_MAX else clean[:REASON_MAX] + "…"


def error_page(request: HttpRequest, status: int, exc: BaseException | None) -> HttpResponse:
    template = f"{status}.html" if status in (403, 404) else "front/error.html"
    return render(request, template, {"reason": reason(exc), "status": status,
                                      "title": TITLES.get(status, TITLES[400])}, status=status)


@requires_csrf_token
def permission_denied(request: HttpRequest, exception: BaseException | None = None
                      ) -> HttpResponse:
    return error_page(request, 403, exception)


@requires_csrf_token
def page_not_found(request: HttpRequest, exception: BaseException | None = None
                   ) -> HttpResponse:
    return error_page(request, 404, exception)


@requires_csrf_token
def server_error(request: HttpRequest) -> HttpResponse:
    try:
        body = loader.get_template("500.html").render({})
    except Exception:  # the last resort must not fail: fall back to a fixed page
        logger.exception("500.html could not be rendered")
        body = BARE_500
    return HttpResponseServerError(body)


CSRF_REASON = "页面已过期或来源不符，未作任何更改。请返回上一页，刷新后重新提交。"


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form refused by the CSRF check: Django's reason is English and technical, ours says
    what to do."""
    return render(request, "403.html", {"reason": CSRF_REASON, "status": 403,
                                        "title": TITLES[403]}, status=403)
