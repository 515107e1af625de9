"""The API's schemas: JSON Schema (2020-12, as OpenAPI 3.1 uses it) written with a few
builders, and one validator for the subset they use. The same definitions check request
bodies and query strings, check responses (when API_CHECK_RESPONSES is on: in tests), and
are the components of /api/v1/openapi.json, so the description cannot drift from the code.
"""

import re
from datetime import date, datetime

from app.i18n import N_

# name -> JSON Schema: the OpenAPI document's components.schemas.
SCHEMAS: dict[str, dict] = {}


def define(name: str, schema: dict) -> dict:
    """Register `schema` under `name`; returns a reference to it."""
    if name in SCHEMAS:
        raise ValueError(f"schema {name!r} is defined twice")
    SCHEMAS[name] = schema
    return ref(name)


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict, nullable: bool) -> dict:
    if nullable:
        schema["type"] = [schema["type"], "null"]
    return schema


def string(
    max_length: int | None = None,
    *,
    min_length: int | None = None,
    enum=None,
    format: str | None = None,
    pattern: str | None = None,
    nullable: bool = False,
    description: str | None = None,
    example: str | None = None,
) -> dict:
    schema: dict = {"type": "string"}
    if pattern is not None:
        schema["pattern"] = pattern
    if min_length is not None:
        schema["minLength"] = min_length
    if max_length is not None:
        schema["maxLength"] = max_length
    if enum is not None:
        schema["enum"] = list(enum)
    if format is not None:
        schema["format"] = format
    if description:
        schema["description"] = description
    if example is not None:
        schema["examples"] = [example]
    return _nullable(schema, nullable)


def integer(
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    enum=None,
    nullable: bool = False,
    description: str | None = None,
) -> dict:
    schema: dict = {"type": "integer"}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    if enum is not None:
        schema["enum"] = list(enum)
    if description:
        schema["description"] = description
    return _nullable(schema, nullable)


def boolean(description: str | None = None) -> dict:
    schema: dict = {"type": "boolean"}
    if description:
        schema["description"] = description
    return schema


def array(items: dict, description: str | None = None) -> dict:
    schema: dict = {"type": "array", "items": items}
    if description:
        schema["description"] = description
    return schema


def obj(properties: dict, *, optional=(), description: str | None = None) -> dict:
    """An object with exactly these properties (no others); all required but `optional`."""
    schema: dict = {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


def nullable_ref(name: str) -> dict:
    return {"oneOf": [ref(name), {"type": "null"}]}


# --- validation ---------------------------------------------------------------------------

_TYPES = {
    "string": str,
    "integer": int,
    "boolean": bool,
    "array": list,
    "object": dict,
    "null": type(None),
}


def _is(value, type_name: str) -> bool:
    if type_name == "integer" and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[type_name])


def _format_ok(value: str, format: str) -> bool:
    try:  # other formats ("email") describe; the service checks them
        if format == "date":
            date.fromisoformat(value)
        elif format == "date-time":
            return datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None
    except ValueError:
        return False
    return True


def errors_of(schema: dict, value, path: str = "") -> list[tuple[str, str, dict]]:
    """[(where, what is wrong, its parameters)] of `value` against `schema` (the builders'
    subset of JSON Schema); empty when it conforms. Messages are English catalogue
    messages."""
    if "$ref" in schema:
        return errors_of(SCHEMAS[schema["$ref"].rsplit("/", 1)[1]], value, path)
    if "oneOf" in schema:
        tried = [errors_of(option, value, path) for option in schema["oneOf"]]
        return [] if any(not found for found in tried) else tried[0]
    types = schema.get("type")
    types = [types] if isinstance(types, str) else types
    if types and not any(_is(value, type_name) for type_name in types):
        return [(path, N_("Send a value of type %(type)s."), {"type": " or ".join(types)})]
    if value is None:
        return []
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(map(str, schema["enum"]))
        return [(path, N_("Choose one of: %(roles)s."), {"roles": choices})]
    if isinstance(value, str):
        if len(value) > schema.get("maxLength", len(value)):
            return [(path, N_("Send at most %(max)s characters."), {"max": schema["maxLength"]})]
        if len(value) < schema.get("minLength", 0):
            return [(path, N_("Send at least %(min)s characters."), {"min": schema["minLength"]})]
        if "format" in schema and not _format_ok(value, schema["format"]):
            return [(path, N_("Send a %(format)s as ISO 8601."), {"format": schema["format"]})]
        if "pattern" in schema and not re.search(schema["pattern"], value):
            pattern = schema["pattern"]
            return [(path, N_("Send a value matching %(pattern)s."), {"pattern": pattern})]
    if isinstance(value, int) and not isinstance(value, bool):
        if value < schema.get("minimum", value) or value > schema.get("maximum", value):
            return [(path, N_("Send a number within the allowed range."), {})]
    if isinstance(value, list):
        found = []
        for index, item in enumerate(value):
            found += errors_of(schema["items"], item, f"{path}/{index}")
        return found
    if isinstance(value, dict):
        found = []
        properties = schema.get("properties", {})
        for name in schema.get("required", ()):
            if name not in value:
                found.append((f"{path}/{name}", N_("This field is required."), {}))
        for name, item in value.items():
            if name in properties:
                found += errors_of(properties[name], item, f"{path}/{name}")
            elif schema.get("additionalProperties") is False:
                found.append((f"{path}/{name}", N_("Unknown field."), {}))
        return found
    return []
