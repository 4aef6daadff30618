"""The machinery under services/payloads.py: the `Payload` base (its `to_json()`, field by field) and the JSON
schema of a payload read from its fields and type hints (`json_schema`). Split out so the payloads module holds
only the payloads themselves; everything here is re-exported there.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

OMIT_IF_NONE = {"omit_if_none": True}  # field metadata: left out of the JSON (and of `required`) when None


def _json_value(value: Any) -> Any:
    if isinstance(value, Payload):
        return value.to_json()
    if isinstance(value, dt.date):  # datetime too
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    return value


@cache
def _fields(cls: type) -> tuple[tuple[str, bool], ...]:
    return tuple((f.name, bool(f.metadata.get("omit_if_none"))) for f in dataclasses.fields(cls))


class Payload:
    """Base of every payload: `to_json()` is the API's answer, field by field."""

    def to_json(self) -> dict[str, Any]:
        out = {}
        for name, omit_if_none in _fields(type(self)):
            value = getattr(self, name)
            if value is None and omit_if_none:
                continue
            out[name] = _json_value(value)
        return out


# -- JSON schemas from the type hints --------------------------------------------------------------------------
def schema_name(cls: type) -> str:
    """The payload's name in the OpenAPI description's components."""
    return cls.__dict__.get("SCHEMA_NAME", cls.__name__)


def _with_null(schema: dict) -> dict:
    if "enum" in schema:
        return {**schema, "enum": [*schema["enum"], None]}
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    kind = schema["type"]
    return {**schema, "type": [*(kind if isinstance(kind, list) else [kind]), "null"]}


def _type_schema(hint: Any) -> dict:
    origin = get_origin(hint)
    if origin is Annotated:
        base, *extras = get_args(hint)
        schema = _type_schema(base)
        for extra in extras:
            schema = {**schema, **extra}
        return schema
    if origin in (Union, types.UnionType):
        members = [a for a in get_args(hint) if a is not type(None)]
        inner = _type_schema(members[0]) if len(members) == 1 else {"anyOf": [_type_schema(m) for m in members]}
        return _with_null(inner) if len(members) < len(get_args(hint)) else inner
    if origin is Literal:
        values = list(get_args(hint))
        return {"const": values[0]} if len(values) == 1 else {"enum": values}
    if origin in (tuple, list):
        return {"type": "array", "items": _type_schema(get_args(hint)[0])}
    if origin is dict:
        key, value = get_args(hint)
        keys = get_args(key) if get_origin(key) is Literal else ()
        if keys:  # a count per status: every status is a key
            return {"type": "object", "properties": {k: _type_schema(value) for k in keys}, "required": list(keys)}
        return {"type": "object", "additionalProperties": _type_schema(value)}
    if isinstance(hint, type) and issubclass(hint, Payload):
        return {"$ref": f"#/components/schemas/{schema_name(hint)}"}
    simple = {bool: {"type": "boolean"}, int: {"type": "integer"}, float: {"type": "number"},
              str: {"type": "string"}, dt.datetime: {"type": "string", "format": "date-time"},
              dt.date: {"type": "string", "format": "date"}}
    if hint in simple:
        return dict(simple[hint])
    raise TypeError(f"no JSON schema for the type hint {hint!r}")


def json_schema(cls: type[Payload]) -> dict:
    """The JSON Schema (2020-12, as OpenAPI 3.1 has it) of one payload, from its fields and type hints."""
    hints = get_type_hints(cls, include_extras=True)
    properties = {f.name: _type_schema(hints[f.name]) for f in dataclasses.fields(cls)}
    required = [f.name for f in dataclasses.fields(cls) if not f.metadata.get("omit_if_none")]
    schema: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
    if cls.__doc__ and not cls.__doc__.startswith(f"{cls.__name__}("):  # dataclass's generated doc says nothing
        schema["description"] = cls.__doc__.strip()
    return schema
