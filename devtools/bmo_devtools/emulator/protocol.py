"""Bedrock's rest-json wire protocol, read from botocore's service model instead of retyped.

Routes (method + URI template), where each input member travels (uri label, query string, JSON body),
the constraints on every member (required, length, pattern, range, enum), the success status code and
each error's HTTP status all come from `botocore/data/bedrock/*/service-2.json`.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

import botocore.session
from botocore.model import OperationModel, Shape

OPERATIONS = (
    "CreateModelImportJob",
    "GetModelImportJob",
    "ListModelImportJobs",
    "GetImportedModel",
    "ListImportedModels",
    "DeleteImportedModel",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
)


class ApiError(Exception):
    """An error Bedrock would return: its type name (a shape in the service model) and message."""

    def __init__(self, type_name: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.type_name = type_name
        self.message = message
        self.extra = extra


@dataclass(frozen=True)
class Route:
    operation: OperationModel
    method: str
    regex: re.Pattern[str]
    status: int


@functools.cache
def service_model(service: str = "bedrock"):
    """botocore's model of `bedrock` (the control plane) or `bedrock-runtime`; loaded once (about 50 ms)."""
    return botocore.session.get_session().get_service_model(service)


def build_routes() -> list[Route]:
    model = service_model()
    routes = []
    for name in OPERATIONS:
        op = model.operation_model(name)
        template = op.http["requestUri"].split("?")[0]
        pattern = re.sub(
            r"\{(\w+)\+?\}", r"(?P<\1>[^/]+)", re.escape(template).replace(r"\{", "{").replace(r"\}", "}")
        )
        routes.append(
            Route(op, op.http["method"], re.compile(f"^{pattern}$"), int(op.http.get("responseCode", 200)))
        )
    return routes


def error_status(type_name: str, service: str = "bedrock") -> int:
    shape = service_model(service).shape_for(type_name)
    return int(shape.metadata.get("error", {}).get("httpStatusCode", 400))


def _parse_timestamp(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(float(text), tz=dt.UTC)
    except ValueError:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _coerce(shape: Shape, raw: str) -> Any:
    if shape.type_name == "integer":
        try:
            return int(raw)
        except ValueError as exc:
            raise ApiError("ValidationException", f"Value '{raw}' is not a valid integer") from exc
    if shape.type_name == "timestamp":
        try:
            return _parse_timestamp(raw)
        except ValueError as exc:
            raise ApiError("ValidationException", f"Value '{raw}' is not a valid timestamp") from exc
    if shape.type_name == "boolean":
        return raw.lower() == "true"
    return raw


def parse_request(route: Route, match: re.Match[str], query: str, body: bytes) -> dict[str, Any]:
    """The operation's input as a dict, from the URI labels, the query string and the JSON body."""
    shape = route.operation.input_shape
    params: dict[str, Any] = {}
    if shape is None:
        return params
    qs = parse_qs(query, keep_blank_values=True)
    doc: dict[str, Any] = {}
    if body:
        try:
            doc = json.loads(body)
        except ValueError as exc:
            raise ApiError("ValidationException", "Request body is not valid JSON") from exc
        if not isinstance(doc, dict):
            raise ApiError("ValidationException", "Request body must be a JSON object")
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri":
            params[name] = unquote(match.group(wire))
        elif location == "querystring":
            if wire in qs:
                params[name] = _coerce(member, qs[wire][0])
        elif location is None and name in doc:
            params[name] = doc[name]
    validate(shape, params, "")
    return params


def _fail(value: Any, path: str, constraint: str) -> ApiError:
    shown = "null" if value is None else f"'{value}'"
    return ApiError(
        "ValidationException",
        f"1 validation error detected: Value {shown} at '{path}' failed to satisfy constraint: {constraint}",
    )


def _check_length(meta: dict[str, Any], value: str | list, path: str) -> None:
    if "min" in meta and len(value) < meta["min"]:
        raise _fail(value, path, f"Member must have length greater than or equal to {meta['min']}")
    if "max" in meta and len(value) > meta["max"]:
        raise _fail(value, path, f"Member must have length less than or equal to {meta['max']}")


def validate(shape: Shape, value: Any, path: str) -> None:
    """Check a value against a shape's constraints the way AWS does (required, min/max, pattern, enum)."""
    meta = shape.metadata
    t = shape.type_name
    if t == "structure":
        if not isinstance(value, dict):
            raise _fail(value, path or shape.name, "Member must be a structure")
        for req in shape.required_members:
            if value.get(req) is None:
                raise _fail(None, f"{path}.{req}".lstrip("."), "Member must not be null")
        for key, sub in value.items():
            if key not in shape.members:  # AWS ignores unknown members
                continue
            if sub is not None:
                validate(shape.members[key], sub, f"{path}.{key}".lstrip("."))
        if meta.get("union") and sum(1 for v in value.values() if v is not None) != 1:
            raise _fail(value, path, "Member must have exactly one member set")
    elif t == "list":
        if not isinstance(value, list):
            raise _fail(value, path, "Member must be a list")
        _check_length(meta, value, path)
        for i, item in enumerate(value):
            validate(shape.member, item, f"{path}.{i + 1}.member")
    elif t == "string":
        if not isinstance(value, str):
            raise _fail(value, path, "Member must be a string")
        _check_length(meta, value, path)
        if "pattern" in meta and not re.fullmatch(meta["pattern"], value):
            raise _fail(value, path, f"Member must satisfy regular expression pattern: {meta['pattern']}")
        if shape.enum and value not in shape.enum:
            raise _fail(value, path, f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
    elif t in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise _fail(value, path, "Member must be a number")
        if "min" in meta and value < meta["min"]:
            raise _fail(value, path, f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            raise _fail(value, path, f"Member must have value less than or equal to {meta['max']}")
    elif t == "boolean" and not isinstance(value, bool):
        raise _fail(value, path, "Member must be a boolean")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def encode_body(result: dict[str, Any] | None) -> bytes:
    return json.dumps(_jsonable(result or {})).encode()


def encode_error(err: ApiError, service: str = "bedrock") -> tuple[int, dict[str, str], bytes]:
    body = {"message": err.message, **err.extra}
    headers = {"x-amzn-ErrorType": f"{err.type_name}:http://internal.amazon.com/coral/com.amazon.bedrock/"}
    return error_status(err.type_name, service), headers, json.dumps(body).encode()
