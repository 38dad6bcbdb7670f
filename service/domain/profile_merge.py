"""Three-way merge of two edits of one profile, against the version both started from.

When a stale edit meets a newer version, the workspace merges field by field instead of asking the
editor to copy their change over by hand:
- a field only one side changed takes that side's value;
- a phrase list (interests, offers) both changed is merged per phrase: a phrase either side added is
  kept, one either side removed is removed (phrases are compared as the schema dedups them, ignoring case);
- a scalar field (name, description, country, …) both changed to different values is a conflict, the
  only thing the editor is asked to choose.

Pure: values in, values out; no database, no HTTP.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["LIST_FIELDS", "SCALAR_FIELDS", "FieldMerge", "ProfileMerge", "merge_profiles"]

SCALAR_FIELDS = ("kind", "name", "country", "bloc", "org_type", "city", "description")
LIST_FIELDS = ("interests", "offers")

Side = Literal["mine", "theirs"]


@dataclass(frozen=True)
class FieldMerge:
    """What happened to one field: who changed it since the base, and for phrase lists which phrases.

    `changed_by` is "" (nobody), "mine", "theirs" or "both"; a conflict is a scalar both changed differently
    (or, without a base, any field that differs). `added`/`removed` map each side to its phrases.
    """

    name: str
    changed_by: Literal["", "mine", "theirs", "both"]
    conflict: bool
    mine: Any
    theirs: Any
    merged: Any
    added: dict[str, list[str]] = field(default_factory=dict)
    removed: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class ProfileMerge:
    """The merged values (a conflict's field holds no value until it is resolved) and each field's story."""

    fields: dict[str, FieldMerge]

    @property
    def conflicts(self) -> list[str]:
        return [name for name, f in self.fields.items() if f.conflict]

    def resolved(self, choices: Mapping[str, Side]) -> dict[str, Any]:
        """The merged profile, each conflict taken from the side `choices` names (`KeyError` if one is missing)."""
        out = {}
        for name, f in self.fields.items():
            out[name] = (f.mine if choices[name] == "mine" else f.theirs) if f.conflict else f.merged
        return out


def _key(phrase: str) -> str:
    return phrase.casefold()


def _keys(phrases: Sequence[str]) -> set[str]:
    return {_key(p) for p in phrases}


def _new(phrases: Sequence[str], before: Sequence[str]) -> list[str]:
    """The phrases not in `before`, in their order."""
    old = _keys(before)
    return [p for p in phrases if _key(p) not in old]


def _merge_phrases(name: str, base: Sequence[str], mine: Sequence[str], theirs: Sequence[str]) -> FieldMerge:
    added = {"mine": _new(mine, base), "theirs": _new(theirs, base)}
    removed = {"mine": _new(base, mine), "theirs": _new(base, theirs)}
    mine_changed, theirs_changed = list(mine) != list(base), list(theirs) != list(base)
    if not theirs_changed:
        merged = list(mine)  # an unchanged side gives the other side exactly, reordering included
    elif not mine_changed:
        merged = list(theirs)
    else:
        gone = _keys(removed["mine"])
        merged = [p for p in theirs if _key(p) not in gone] + _new(added["mine"], theirs)
    changed_by = {(False, False): "", (True, False): "mine", (False, True): "theirs", (True, True): "both"}
    return FieldMerge(
        name=name,
        changed_by=changed_by[(mine_changed, theirs_changed)],
        conflict=False,
        mine=list(mine),
        theirs=list(theirs),
        merged=merged,
        added={side: ps for side, ps in added.items() if ps},
        removed={side: ps for side, ps in removed.items() if ps},
    )


def _merge_scalar(name: str, base: Any, mine: Any, theirs: Any) -> FieldMerge:
    mine_changed, theirs_changed = mine != base, theirs != base
    if mine_changed and theirs_changed:
        return FieldMerge(name, "both", mine != theirs, mine, theirs, None if mine != theirs else mine)
    if mine_changed:
        return FieldMerge(name, "mine", False, mine, theirs, mine)
    return FieldMerge(name, "theirs" if theirs_changed else "", False, mine, theirs, theirs)


def merge_profiles(base: Mapping[str, Any] | None, mine: Mapping[str, Any], theirs: Mapping[str, Any]) -> ProfileMerge:
    """Merge `mine` and `theirs`, two edits of the profile `base` (each a mapping of the profile's fields).

    Without a base (a form that did not carry it), nothing says who changed what: every field that
    differs is a conflict to choose.

    Returns
    -------
    ProfileMerge
        Every field's `FieldMerge`; `conflicts` lists the fields to choose, `resolved(choices)` the result.
    """
    fields: dict[str, FieldMerge] = {}
    for name in SCALAR_FIELDS + LIST_FIELDS:
        m, t = mine.get(name), theirs.get(name)
        if base is None:
            fields[name] = FieldMerge(name, "both" if m != t else "", m != t, m, t, m if m == t else None)
        elif name in LIST_FIELDS:
            fields[name] = _merge_phrases(name, base.get(name) or [], m or [], t or [])
        else:
            fields[name] = _merge_scalar(name, base.get(name), m, t)
    return ProfileMerge(fields=fields)
