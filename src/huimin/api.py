"""The REST API (OpenAPI document at /api/openapi.json, browsable at /api/docs).

Each app keeps its endpoints in its own ``api.py`` router; this module assembles them, turns
errors into one body (``huimin.api_params.Error``) and documents those answers on every
operation. The document and Swagger UI need a login and are served from this server's static
files (django-ninja's bundle, no inline script), never from a CDN.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Swagger
from ninja.errors import ValidationError
from ninja.security import django_auth

from huimin.api_params import NEXT_HEADERS, Error
from huimin.cases.api import router as cases_router
from huimin.errors import ActionError, FileRejected
from huimin.payments.api import router as payments_router
from huimin.registry.api import router as registry_router
from huimin.verification.api import router as feeds_router

#: the answers besides success that each kind of operation may give, with what they mean
ERROR_ANSWERS = {
    400: "请求内容有误（字段或文件行列及原因见 detail / errors）",
    401: "未登录",
    403: "角色无权执行此操作",
    404: "对象不存在或不在您的管辖范围内",
    409: "状态已变化或与已有记录冲突（如版本号过期、重复申请）",
    422: "参数不符合接口定义（字段及原因见 errors）",
}


class HuiminAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix: str | None = None,
                           path_params: dict[str, Any] | None = None) -> Any:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        body = Error.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(body.pop("$defs", {}))
        schemas["Error"] = body
        ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        for ops in schema["paths"].values():
            for op in ops.values():
                if any(p.get("name") == "after" for p in op.get("parameters", ())):
                    op["responses"].get(200, {}).setdefault("headers", NEXT_HEADERS)
                for code in ERROR_ANSWERS:
                    op["responses"].setdefault(code, {"description": ERROR_ANSWERS[code], **ref})
        return schema


api = HuiminAPI(title="惠民 API", version="1", auth=django_auth, urls_namespace="api",
                docs=Swagger(settings={"persistAuthorization": False}),
                docs_decorator=login_required)

#: pydantic error types in Chinese; anything else keeps pydantic's own message
REASONS = {
    "missing": "必填",
    "int_parsing": "须为整数",
    "int_type": "须为整数",
    "int_from_float": "须为整数",
    "bool_parsing": "须为 true 或 false",
    "bool_type": "须为 true 或 false",
    "string_type": "须为文本",
    "date_from_datetime_parsing": "须为日期 YYYY-MM-DD",
    "date_parsing": "须为日期 YYYY-MM-DD",
    "date_type": "须为日期 YYYY-MM-DD",
    "enum": "须为以下之一：{expected}",
    "literal_error": "须为以下之一：{expected}",
    "greater_than_equal": "须不小于 {ge}",
    "greater_than": "须大于 {gt}",
    "less_than_equal": "须不大于 {le}",
    "less_than": "须小于 {lt}",
    "string_too_long": "最多 {max_length} 个字符",
    "string_too_short": "至少 {min_length} 个字符",
    "list_type": "须为列表",
    "model_type": "须为对象",
    "model_attributes_type": "须为对象",
    "dict_type": "须为对象",
    "json_invalid": "不是有效的 JSON",
    "extra_forbidden": "不是本接口的字段",
}


def _reason(err: dict[str, Any]) -> str:
    template = REASONS.get(str(err.get("type", "")))
    if template is None:
        return str(err.get("msg", "格式有误"))
    try:
        return template.format(**(err.get("ctx") or {}))
    except (KeyError, IndexError, ValueError):
        return str(err.get("msg", "格式有误"))


def _field(err: dict[str, Any]) -> str:
    # ninja's locations look like ("query", "limit") or ("body", "payload", "claim_year")
    loc = [str(p) for p in err.get("loc", ())]
    if len(loc) > 2 and loc[0] == "body":
        loc = loc[2:]
    elif loc:
        loc = loc[1:] or loc
    return ".".join(loc) or "请求"


@api.exception_handler(ValidationError)
def on_invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [{"field": _field(e), "reason": _reason(e)} for e in exc.errors]
    detail = "；".join(f"{e['field']}：{e['reason']}" for e in errors[:5]) or "请求参数有误"
    return api.create_response(request, {"detail": detail, "errors": errors}, status=422)


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


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc) or "对象不存在或不在您的管辖范围内"},
                               status=404)


api.add_router("/", registry_router)
api.add_router("/", cases_router)
api.add_router("/", payments_router)
api.add_router("/", feeds_router)
