"""The small builders every part of the OpenAPI description uses (dashapp/openapi.py and its route modules)."""

from __future__ import annotations

from typing import Any


def ref(name: str) -> dict:
    """A reference to a schema of components/schemas."""
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict:
    """An object schema; every property is required unless `required` says otherwise."""
    return {"type": "object", "properties": properties,
            "required": list(properties) if required is None else required, **extra}


def json_content(schema: dict, description: str) -> dict:
    """A response (or body) of JSON in `schema`."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}
