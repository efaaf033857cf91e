"""Numbers and booleans that reach the config as text, read as the schema wants them.

Two ordinary ways of writing a config hand over text where a number is meant:
- `snakemake --config finetune='{lr: 1e-4}'`: Snakemake parses a nested value with
  YAML's BaseLoader, which keeps every scalar as a string ('1e-4', '3', 'true');
- a YAML file with `lr: 1e-4`: PyYAML follows YAML 1.1, where a float needs a dot
  (1.0e-4), so it reads 1e-4 as the string '1e-4'.
Either way the user meant a number, so text is converted where the schema asks
for a number, an integer or a boolean (and only there: a string-typed key keeps
its text). Text in exponent form without a dot is reported, with the YAML
spelling that says it exactly: that is the pitfall of config files. Plain
digits and true/false are what every --config value looks like, converted quietly.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

INTEGER = re.compile(r"[-+]?[0-9]+")
NUMBER = re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?")
BOOLEANS = {"true": True, "false": False}


def resolve_ref(node: dict, root: dict) -> dict:
    """Follow local `$ref`s (`#/definitions/...`) of a schema node."""
    while "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local $ref is supported, got {ref}")
        target = root
        for part in ref[2:].split("/"):
            target = target[part]
        node = target
    return node


def coerce_text(config: dict, schema: dict) -> list[str]:
    """Convert, in place, text values where the schema wants a number or boolean.

    Returns one line per key converted from exponent form, saying how to write it.
    """
    return [line for line in _coerce(config, schema, schema, []) if line]


def _coerce(value, node: dict, root: dict, path: list[str]) -> Iterator[str]:
    node = resolve_ref(node, root)
    if isinstance(value, dict):
        properties = node.get("properties", {})
        extra = node.get("additionalProperties")
        for key, item in value.items():
            child = properties.get(key, extra if isinstance(extra, dict) else None)
            if child is None:
                continue
            if isinstance(item, str):
                converted = _convert(item, resolve_ref(child, root).get("type"))
                if converted is not None:
                    value[key] = converted
                    yield _message([*path, str(key)], item, converted)
                    continue
            yield from _coerce(item, child, root, [*path, str(key)])
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        item_type = resolve_ref(node["items"], root).get("type")
        for index, item in enumerate(value):
            converted = _convert(item, item_type) if isinstance(item, str) else None
            if converted is not None:
                value[index] = converted
                yield _message([*path, str(index)], item, converted)
            else:
                yield from _coerce(item, node["items"], root, [*path, str(index)])


def _convert(text: str, wanted) -> int | float | bool | None:
    """The value `text` stands for when the schema wants exactly one non-string type."""
    text = text.strip()
    if wanted == "integer" and INTEGER.fullmatch(text):
        return int(text)
    if wanted == "number" and INTEGER.fullmatch(text):
        return int(text)
    if wanted == "number" and NUMBER.fullmatch(text):
        return float(text)
    if wanted == "boolean" and text.lower() in BOOLEANS:
        return BOOLEANS[text.lower()]
    return None


def _message(path: list[str], text: str, value) -> str | None:
    """What to tell the user about a conversion: only 1e-4 style text needs a word."""
    if not isinstance(value, float) or "." in text:
        return None
    mantissa, _, exponent = text.strip().lower().partition("e")
    return (
        f"key '{'.'.join(path)}': text '{text}' read as the number {value!r} "
        f"(YAML reads a number with an exponent but no dot as text; write {mantissa}.0e{exponent})"
    )
