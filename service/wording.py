"""Validation problems in the words of the person who typed the value: what is wrong with it, and what would do.

Pydantic says "String should match pattern '^[A-Z]{2}$'"; a programme officer needs "“nl” is not a
country code: use the two capital letters of its ISO 3166-1 code, such as NL or KR". `plain` words
one pydantic error by its type and the field it is about, and gives the offending value as text;
an error it has no words for keeps pydantic's own message.
"""

import json
import re
from typing import Any

from service.schemas import MAX_PHRASES

__all__ = ["plain", "shown"]

ID_RULE = "an id is 1 to 64 lower-case letters, digits, dots, dashes or underscores, such as “eindhoven”"
# what a value of a field with a pattern is not, and what a valid one looks like
PATTERN_RULES = {
    "id": f"is not an id: {ID_RULE}",
    "city": f"is not the id of a profile: {ID_RULE}",
    "a": f"is not the id of a profile: {ID_RULE}",
    "b": f"is not the id of a profile: {ID_RULE}",
    "profile": f"is not the id of a profile: {ID_RULE}",
    "excluded": f"is not the id of a profile: {ID_RULE}",
    "country": "is not a country code: use the two capital letters of its ISO 3166-1 code, such as NL or KR",
    "bloc": "is not a bloc: a bloc is 1 to 32 letters, digits, dashes or underscores, such as EU or KR",
}
# what the field holds, where a list is too long
LIST_ITEMS = {"interests": "phrases", "offers": "phrases", "themes": "themes"}
SHOWN_CHARS = 80
# control characters other than tabs and line breaks, which a page cannot show
UNSHOWABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# the schemas' words for a control character in a text (`service.schemas._one_line`, `_free_text`)
CONTROL_FOUND = re.compile(r"^must not contain control characters.*\(found (U\+[0-9A-F]{4})\)")


def shown(value: Any) -> str | None:
    """The offending value as the reader typed it, shortened: text as itself, anything else as JSON."""
    if value is None or value == "" or value == [] or value == {}:
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = UNSHOWABLE.sub("\N{REPLACEMENT CHARACTER}", text)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def _quoted(value: Any) -> str:
    text = shown(value)
    return "nothing" if text is None else f"“{text}”"


def _choices(expected: str) -> str:
    """Pydantic's `'company', 'university' or 'other'` as `company, university or other`."""
    return expected.replace("'", "")


def plain(error: dict[str, Any]) -> str:
    """One pydantic error (an item of `ValidationError.errors()`) as a sentence about the value given."""
    kind, loc, value, ctx = error["type"], error["loc"], error.get("input"), error.get("ctx") or {}
    names = [part for part in loc if isinstance(part, str)]
    field_name = names[-1] if names else ""
    if kind == "missing":
        return "nothing was given: this is required"
    if kind == "string_pattern_mismatch":
        rule = PATTERN_RULES.get(field_name, f"does not have the form asked for ({ctx.get('pattern', '')})")
        return f"{_quoted(value)} {rule}"
    if kind == "literal_error":
        return f"{_quoted(value)} is not one of the allowed values: use {_choices(str(ctx.get('expected', '')))}"
    if kind == "string_too_long":
        return f"it is {len(value)} characters long, over the limit of {ctx['max_length']} characters"
    if kind == "string_too_short":
        return "it is empty: write something here"
    if kind == "too_long":
        items, most = LIST_ITEMS.get(field_name, "entries"), ctx.get("max_length", MAX_PHRASES)
        return f"it has {ctx.get('actual_length', len(value))} {items}; at most {most} are allowed"
    if kind == "extra_forbidden":
        return f"“{field_name}” is not a field this file may have: remove it, or check its spelling"
    if kind == "string_type":
        return f"{_quoted(value)} should be text"
    if kind == "list_type":
        return f"{_quoted(value)} should be a list"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"{_quoted(value)} should be an object with named fields"
    message = error["msg"].removeprefix("Value error, ")
    if kind == "value_error" and field_name == "country":
        return f"{_quoted(value)} {PATTERN_RULES['country']}"
    if found := CONTROL_FOUND.search(message):
        return f"it holds an invisible control character ({found.group(1)}), pasted from elsewhere: type it again"
    return message
