"""An ``ActionError`` that a page did not catch becomes an error page with its Chinese message
and status (400, 403, 409) instead of a 500."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

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
