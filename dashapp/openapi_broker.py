"""The OpenAPI description of the broker-import routes (dashapp/api_broker.py), merged into dashapp/openapi.py's
paths and schemas (`_SCHEMAS.update(BROKER_SCHEMAS)`, `_PATHS.update(BROKER_PATHS)`)."""

from __future__ import annotations

from typing import Any

from dashapp.openapi_parts import json_content as _json
from dashapp.openapi_parts import obj as _obj
from dashapp.openapi_parts import ref as _ref
from services.broker_formats import DATE_FORMATS, OUR_COLUMNS, TYPES
from services.broker_presets import CUSTOM, OWN_FORMAT, PRESETS
from services.models import MAX_REPORTED_ERRORS

FORMAT_KEYS = [OWN_FORMAT, *PRESETS, CUSTOM]








def _op(op_id: str, summary: str, responses: dict, **extra: Any) -> dict:
    return {"operationId": op_id, "summary": summary, "tags": ["api"], "responses": responses, **extra}


_LINE_ERROR = _obj({"line": {"type": ["integer", "null"]}, "field": {"type": "string"},
                    "message": {"type": "string"}}, required=["field", "message"])
BROKER_SCHEMAS: dict[str, dict] = {
    "ImportFormats": _obj({
        "formats": {"type": "array", "items": _obj({
            "key": {"enum": FORMAT_KEYS}, "name": {"type": "string"},
            "source": {"type": "string", "description": "the public page the preset's columns come from"},
            "columns": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
            "date_formats": {"type": "array", "items": {"type": "string"}}}, required=["key", "name"])},
        "columns": {"type": "array", "items": {"enum": list(OUR_COLUMNS)}},
        "date_formats": {"type": "array", "items": {"enum": list(DATE_FORMATS)}},
    }),
    "ImportMapping": _obj({
        "format": {"enum": FORMAT_KEYS, "default": OWN_FORMAT},
        "custom": {"type": ["object", "null"], "description": "with format custom: the mapping", "properties": {
            "columns": {"type": "object", "description": "our column -> the file's header",
                        "propertyNames": {"enum": list(OUR_COLUMNS)}, "additionalProperties": {"type": "string"}},
            "actions": {"type": "object", "description": "our type -> the file's words for it",
                        "propertyNames": {"enum": list(TYPES)},
                        "additionalProperties": {"type": "array", "items": {"type": "string"}}},
            "date_format": {"enum": list(DATE_FORMATS)}}},
    }, required=["format"]),
    "BrokerImported": _obj({
        "imported": {"type": "integer", "minimum": 0},
        "skipped_duplicates": {"type": "integer", "minimum": 0},
        "not_trades": {"type": "integer", "minimum": 0,
                       "description": "rows that are not trades (deposits, interest, journals...), left out"},
        "not_trade_actions": {"type": "object", "additionalProperties": {"type": "integer"}},
        "warnings": {"type": "array", "items": _LINE_ERROR, "description": "by the line of the user's file"},
        "format": {"enum": FORMAT_KEYS},
    }),
}
_PID = {"name": "portfolio_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}
_ERROR = _ref("Error")
_NOT_FOUND = _json(_ERROR, "no such portfolio")
_INVALID = _json(_ref("ValidationError"), f"rejected: the first {MAX_REPORTED_ERRORS} problems named, by the "
                                          "line of the user's file")
BROKER_PATHS: dict[str, dict] = {
    "/api/import-presets": {
        "get": _op("importPresets", "The import formats: ours, the broker presets, custom columns", {
            "200": _json(_ref("ImportFormats"), "the formats")}),
    },
    "/api/portfolios/{portfolio_id}/import-mapping": {
        "parameters": [_PID],
        "get": _op("getImportMapping", "The portfolio's saved import format", {
            "200": _json(_obj({"mapping": _ref("ImportMapping")}), "saved (ours when none was)"),
            "404": _NOT_FOUND}),
        "put": _op("putImportMapping", "Save the portfolio's import format", {
            "200": _json(_obj({"mapping": _ref("ImportMapping")}), "saved"),
            "400": _json(_ERROR, "the body is not a JSON object"), "404": _NOT_FOUND,
            "413": _json(_ERROR, "the body is too large"), "422": _INVALID},
            requestBody={"required": True, "content": {"application/json": {"schema": _ref("ImportMapping")}}}),
    },
    "/api/portfolios/{portfolio_id}/import-broker": {
        "parameters": [_PID],
        "post": _op("importBroker", "Import a broker's CSV export through a preset or the saved mapping", {
            "200": _json(_ref("BrokerImported"), "every trade row imported"),
            "404": _NOT_FOUND, "413": _json(_ERROR, "the body is larger than MAX_UPLOAD_BYTES"),
            "422": _INVALID},
            parameters=[{"name": "format", "in": "query", "required": False,
                         "description": "default: the portfolio's saved format", "schema": {"enum": FORMAT_KEYS}}],
            requestBody={"required": True, "content": {
                "text/csv": {"schema": {"type": "string"}},
                "multipart/form-data": {"schema": _obj({"file": {"type": "string",
                                                                 "contentMediaType": "text/csv"}})}}}),
    },
}
