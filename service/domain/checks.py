"""Checking a profile as a person sent it (a form, a file's row) in one pass: every field's problem, the
rules across fields and the references to stored profiles together, each with its value and a plain
message, so that fixing what is listed is the last round.

Pydantic checks the rules across fields (what a city and an organisation must have) only once every
field passes, and the references need valid ids: here both are checked on the values as given too,
wherever those values can be read.
"""

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from matching.types import KINDS
from service.domain.references import profile_reference_problems
from service.errors import FieldProblem, pointer, validation_problems
from service.schemas import ID_PATTERN, ProfileFields, kind_rule_breaches
from service.wording import shown

__all__ = ["profile_problems", "check_profile_write"]

Model = TypeVar("Model", bound=BaseModel)


def profile_problems(
    raw: Mapping[str, Any], *, model: type[Model], prefix: tuple[Any, ...] = ()
) -> tuple[Model | None, list[FieldProblem]]:
    """The profile `raw` describes, or None with every problem of its fields and of the rules across them."""
    try:
        return model.model_validate(raw), []
    except ValidationError as exc:
        problems = validation_problems(exc.errors(), prefix=prefix)
    reported = {p.pointer for p in problems}
    for field_name, message in kind_rule_breaches(raw.get("kind"), raw.get("org_type"), raw.get("interests")):
        at = pointer(prefix + (field_name,))
        if at not in reported:
            problems.append(FieldProblem(at, message, value=shown(raw.get(field_name)), message=message))
    return None, problems


def check_profile_write(
    session: Session, *, profile_id: str, raw: Mapping[str, Any]
) -> tuple[ProfileFields | None, list[FieldProblem]]:
    """A profile write's fields (as the workspace's form sends them) checked in one pass with its
    references to what is stored (`profile_reference_problems`): the fields, or None and every problem."""
    fields, problems = profile_problems(raw, model=ProfileFields)
    kind, city = raw.get("kind"), raw.get("city")
    if kind in KINDS and (city is None or (isinstance(city, str) and re.fullmatch(ID_PATTERN, city))):
        found = profile_reference_problems(session, profile_id=profile_id, kind=kind, city=city)
        problems += [replace(p, value=shown(raw.get(p.pointer.strip("/"))), message=p.detail) for p in found]
    return (fields if not problems else None), problems
