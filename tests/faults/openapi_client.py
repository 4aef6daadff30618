"""A hypothesis-driven client over the OpenAPI description (dashapp/openapi.py): strategies for request bodies and
parameters built from its schemas, and a check of every answer against the responses it documents.

Small on purpose: it understands the subset of JSON Schema the description uses (type and type lists, object
properties and required, enum, const, pattern, format date, min/max, arrays, $ref) and mixes schema-shaped
values with arbitrary JSON, junk text and wrong types, so that both the happy paths and the refusals are reached.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass

from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from dashapp.openapi import openapi_spec

SPEC = openapi_spec()
METHODS = ("get", "post", "put", "patch", "delete")

# Scalars that have broken parsers before: signs, exponents, NaN, huge and tiny numbers, spreadsheet formulas,
# markup, path tricks, NUL, lone surrogates, right-to-left marks.
NASTY_TEXT = st.sampled_from([
    "", " ", "0", "-1", "1e400", "-0", "NaN", "Infinity", "-inf", "1_000", "1,5", "0x1F", "9" * 60,
    "=cmd()", "+1", "@SUM(A1)", "'=x", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "../x",
    "A B", "\x00", "\ud800", "\u202e", "BRK-B", "^GSPC", "EURUSD=X", "VOD.L", "2025-02-30", "1899-12-31",
    "2999-01-01", "buy", "SPLIT", "null", "{}", "[]",
])
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30) | NASTY_TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


def resolve(schema: dict) -> dict:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = SPEC["components"]["schemas"][name]
    return schema


def from_schema(schema: dict, depth: int = 0) -> st.SearchStrategy:
    """Values shaped by `schema`, now and then with a wrong value in one place (depth-first)."""
    schema = resolve(schema)
    shaped = _shaped(schema, depth)
    if depth == 0:
        return shaped
    # Mostly right, one time in eight anything: a body then has every field right now and then (a 201), or one wrong.
    return st.integers(0, 7).flatmap(lambda n: ANY_JSON if n == 0 else shaped)


def _shaped(schema: dict, depth: int) -> st.SearchStrategy:
    if "examples" in schema:  # the description's own examples, half of the time
        plain = {key: value for key, value in schema.items() if key != "examples"}
        return st.one_of(st.sampled_from(schema["examples"]), _shaped(plain, depth))
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kinds = schema.get("type", "object")
    if isinstance(kinds, list):
        return st.one_of(*(_shaped({**schema, "type": kind}, depth) for kind in kinds))
    if kinds == "null":
        return st.none()
    if kinds == "boolean":
        return st.booleans()
    if kinds == "integer":
        return st.integers(min_value=schema.get("minimum"), max_value=schema.get("maximum"))
    if kinds == "number":
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        return st.one_of(
            st.floats(min_value=low, max_value=1e6, allow_nan=False, allow_infinity=False,
                      exclude_min="exclusiveMinimum" in schema),
            st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False).map(float),
            st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False).map(str),
        )
    if kinds == "string":
        if schema.get("format") == "date":
            return st.dates(dt.date(1990, 1, 1), dt.date.today()).map(dt.date.isoformat)
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True).filter(lambda s: len(s) <= 40)
        return st.text(min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 40), 40))
    if kinds == "array":
        return st.lists(from_schema(schema.get("items", {}), depth + 1), max_size=3)
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    return st.fixed_dictionaries(
        {name: from_schema(sub, depth + 1) for name, sub in properties.items() if name in required},
        optional={name: from_schema(sub, depth + 1) for name, sub in properties.items() if name not in required},
    )


@dataclass(frozen=True)
class Operation:
    path: str  # as in the description: /api/portfolios/{portfolio_id}
    method: str
    spec: dict
    parameters: tuple[dict, ...]

    @property
    def responses(self) -> dict[str, dict]:
        return self.spec["responses"]

    @property
    def body_types(self) -> tuple[str, ...]:
        return tuple(self.spec.get("requestBody", {}).get("content", {}))

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


def operations() -> Iterator[Operation]:
    for path, item in SPEC["paths"].items():
        shared = item.get("parameters", [])
        for method in METHODS:
            if method in item:
                yield Operation(path, method, item[method], tuple(shared + item[method].get("parameters", [])))


def validator_for(schema: dict) -> Draft202012Validator:
    return Draft202012Validator({**schema, "components": SPEC["components"]},
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def check_answer(operation: Operation, status: int, content_type: str, body: bytes) -> list[str]:
    """What is wrong with an answer, judged by the description: [] when nothing is."""
    problems = []
    if status >= 500:
        return [f"{operation}: {status} {body[:300]!r}"]
    documented = operation.responses.get(str(status))
    if documented is None:
        # Any path answers 404 for an id that does not exist or a segment that is no id.
        if status == 404 and "{" in operation.path:
            documented = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        else:
            return [f"{operation}: undocumented status {status} {body[:200]!r}"]
    content = documented.get("content")
    if not content:
        return [] if not body else [f"{operation}: {status} should have no body, got {body[:100]!r}"]
    media = content_type.split(";")[0].strip()
    if media not in content:
        return [f"{operation}: {status} answered {content_type!r}, documented {list(content)}"]
    if media == "application/json":
        try:
            payload = json.loads(body)
        except ValueError:
            return [f"{operation}: {status} body is not JSON: {body[:200]!r}"]
        errors = sorted(validator_for(content[media]["schema"]).iter_errors(payload), key=str)
        problems += [f"{operation}: {status} {list(e.absolute_path)}: {e.message[:200]}" for e in errors[:3]]
    return problems


def json_body_strategy(operation: Operation) -> st.SearchStrategy[tuple[bytes | None, str | None]]:
    """(raw body, content type) for an operation: schema-shaped JSON, any JSON, broken JSON, or none."""
    content = operation.spec.get("requestBody", {}).get("content", {})
    shaped = []
    if "application/json" in content:
        shaped.append(from_schema(content["application/json"]["schema"]).map(
            lambda value: (json.dumps(value).encode(), "application/json")))
    others = st.one_of(
        ANY_JSON.map(lambda value: (json.dumps(value).encode(), "application/json")),
        st.binary(max_size=200).map(lambda raw: (raw, "application/json")),
        st.sampled_from([b'{"name": NaN}', b'{"quantity": Infinity, "price": -Infinity}', b"{", b"[]", b"null",
                         b'{"name": "\\ud800"}', b'{"note": "\\u0000"}', b"1" * 5000]).map(
            lambda raw: (raw, "application/json")),
        st.text(max_size=100).map(lambda text: (text.encode("utf-8", "surrogatepass"), "text/plain")),
        st.just((None, None)),
    )
    if not shaped:
        return others
    return st.integers(0, 9).flatmap(lambda n: others if n < 4 else shaped[0])  # 60 % shaped by the schema
