"""An ``ActionError`` that a page did not catch becomes an error page with its Chinese message
and status (400, 403, 409) instead of a 500; a query parameter holding a NUL character is
refused before any view runs (PostgreSQL cannot take one in a text value: a search for it
was a 500)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from huimin.errors import ActionError
from huimin.front.errors import error_page


class ActionErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception
                          ) -> HttpResponse | None:
        if not isinstance(exception, ActionError) or request.path.startswith("/api/"):
            return None
        return error_page(request, exception.status, exception)


class NulParameterMiddleware:
    """400 for a query string with a NUL (U+0000) in a name or a value, naming the parameter:
    the page's own message on the site, ``{"detail": …}`` on the API."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in v for v in values):
                shown = name.replace("\x00", "")[:30]
                message = f"查询参数「{shown}」含有空字符（NUL），请去掉后重试"
                if request.path.startswith("/api/"):
                    return JsonResponse({"detail": message}, status=400)
                return error_page(request, 400, ActionError(message))
        return self.get_response(request)
