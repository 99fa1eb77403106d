"""The REST API (OpenAPI document at /api/openapi.json, browsable at /api/docs).

Each app keeps its endpoints in its own ``api.py`` router; this module assembles them.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.security import django_auth

from huimin.cases.api import router as cases_router
from huimin.errors import ActionError, FileRejected
from huimin.payments.api import router as payments_router
from huimin.registry.api import router as registry_router

api = NinjaAPI(title="惠民 API", version="1", auth=django_auth, urls_namespace="api")


@api.exception_handler(ActionError)
def on_action_error(request: HttpRequest, exc: ActionError) -> HttpResponse:
    body: dict[str, object] = {"detail": exc.message}
    if isinstance(exc, FileRejected):
        body["errors"] = [{"row": e.row, "column": e.column, "reason": e.reason}
                          for e in exc.errors]
    return api.create_response(request, body, status=exc.status)


@api.exception_handler(PermissionDenied)
def on_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc) or "无权操作"}, status=403)


api.add_router("/", registry_router)
api.add_router("/", cases_router)
api.add_router("/", payments_router)
