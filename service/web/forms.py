"""The profile form: what its fields hold, and each validation problem placed beside its field."""

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from service.domain.checks import check_profile_write
from service.errors import FieldProblem
from service.schemas import ProfileFields, row_number

__all__ = ["PROFILE_FIELDS", "ProfileForm", "problems_by_field"]

PROFILE_FIELDS = ("kind", "name", "country", "bloc", "org_type", "city", "description", "interests", "offers")
PHRASE_FIELDS = ("interests", "offers")
# each field's label on the form, which the summary of its problems repeats
PROFILE_LABELS = {
    "kind": "Kind",
    "name": "Name",
    "country": "Country",
    "bloc": "Bloc",
    "org_type": "Organisation type",
    "city": "City profile",
    "description": "Description",
    "interests": "Interests",
    "offers": "Offers",
}


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def problems_by_field(problems: list[FieldProblem], values: dict[str, Any]) -> dict[str, list[str]]:
    """Messages keyed by form field; `/interests/3` names the phrase so the reader can find it.

    Problems that point at no field (a rule about the whole profile) are keyed by "".
    """
    out: dict[str, list[str]] = defaultdict(list)
    for p in problems:
        parts = p.pointer.strip("/").split("/")
        name = parts[0] if parts and parts[0] in PROFILE_FIELDS else ""
        message = p.sentence
        if name in PHRASE_FIELDS and len(parts) > 1 and parts[1].isdigit():
            i = int(parts[1])
            phrases = values.get(name) or []
            quoted = phrases[i] if i < len(phrases) else ""
            shown = quoted if len(quoted) <= 60 else quoted[:57] + "…"
            message = f"line {i + 1} (“{shown}”): {p.sentence}"
        out[name].append(message)
    return dict(out)


@dataclass
class ProfileForm:
    """The edit form's values as typed, its version, and its problems once checked."""

    values: dict[str, Any]
    version: int | None
    problems: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_profile(cls, out: Any) -> "ProfileForm":
        """A form showing a stored profile (a `ProfileOut` or its JSON dump)."""
        data = out if isinstance(out, dict) else out.model_dump(mode="json")
        return cls(values={f: data.get(f) for f in PROFILE_FIELDS}, version=data.get("version"))

    @classmethod
    def from_submission(cls, form: Any) -> "ProfileForm":
        """Read a submitted form: phrases one per line, blank optional fields as null."""
        values: dict[str, Any] = {}
        for name in PROFILE_FIELDS:
            raw = form.get(name)
            raw = raw if isinstance(raw, str) else ""
            if name in PHRASE_FIELDS:
                values[name] = _lines(raw)
            elif name in ("org_type", "city"):
                values[name] = raw.strip() or None
            elif name in ("country",):
                values[name] = raw.strip().upper()
            else:
                # a browser sends a text box's line breaks as CRLF: stored as LF, so an unchanged text stays equal
                values[name] = raw.strip() if name != "description" else raw.replace("\r\n", "\n")
        version = form.get("version")
        return cls(values=values, version=row_number(version) if isinstance(version, str) else None)

    def validated(self, session: Session, profile_id: str) -> ProfileFields | None:
        """The profile the form describes, or None with `problems` filled in: every one at once, its
        fields', the rules across them and its references to stored profiles (`check_profile_write`)."""
        self.problems = {}
        if self.version is None:
            self.problems[""] = ["the form lost the version of the profile you edited; open the edit page again"]
            return None
        fields, problems = check_profile_write(session, profile_id=profile_id, raw=self.values)
        self.problems = problems_by_field(problems, self.values)
        return fields

    @property
    def summary(self) -> list[tuple[str, str, str]]:
        """The problems as the summary above the form lists them: (field, its label, message), in form order."""
        order = ("", *PROFILE_FIELDS)
        return [
            (name, PROFILE_LABELS.get(name, ""), message)
            for name in sorted(self.problems, key=order.index)
            for message in self.problems[name]
        ]

    def text(self, name: str) -> str:
        """A field's value as a text box shows it."""
        value = self.values.get(name)
        if isinstance(value, list):
            return "\n".join(value)
        return "" if value is None else str(value)
