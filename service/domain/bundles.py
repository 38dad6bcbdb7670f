"""Bundles in and out: reading JSON or CSV into a validated `Bundle` (every problem listed with its path),
importing one all-or-nothing, and exporting everything stored."""

import csv
import io
import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.db import store
from service.domain.references import city_problems, cohort_problems, kept_kind_problems, pair_problems
from service.errors import Conflict, FieldProblem, InvalidBundle, validation_problems
from service.live.index import LiveIndex
from service.schemas import Bundle, ImportSummary, ProfileCreate

__all__ = [
    "parse_bundle",
    "parse_csv",
    "parse_json_bytes",
    "parse_upload",
    "read_bundle_file",
    "reference_problems",
    "import_bundle",
    "export_bundle",
    "CSV_COLUMNS",
]

CSV_COLUMNS = ("id", "kind", "name", "country", "bloc", "org_type", "city", "description", "interests", "offers")


def parse_bundle(raw: Any) -> Bundle:
    if not isinstance(raw, dict):
        raise InvalidBundle("a bundle is a JSON object", [FieldProblem("/", "expected an object")])
    try:
        return Bundle.model_validate(raw)
    except ValidationError as exc:
        problems = validation_problems(exc.errors())
        raise InvalidBundle(f"the bundle has {len(problems)} problem(s); nothing was stored", problems) from None


def parse_json_bytes(body: bytes) -> Bundle:
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidBundle(f"not valid JSON: {exc}", [FieldProblem("/", "not valid JSON")]) from None
    except RecursionError:
        raise InvalidBundle("the JSON is nested too deeply to read", [FieldProblem("/", "nested too deeply")]) from None
    return parse_bundle(raw)


def _phrases(cell: str | None) -> list[str]:
    return [p.strip() for p in (cell or "").split(";") if p.strip()]


def parse_csv(text: str) -> Bundle:
    """One row per profile, phrases `;`-separated; problems point at `/rows/<line>/<column>`.

    Lines are numbered as a spreadsheet shows them, the header being line 1.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = reader.fieldnames or []
        records = list(reader)
    except csv.Error as exc:  # a cell over the csv module's limit (128 KiB), say: nothing after it can be read
        line = reader.line_num + 1  # the line after the last record read is where the bad one starts
        at = "/header" if line == 1 else f"/rows/{line}"
        raise InvalidBundle(
            "the CSV cannot be read; nothing was stored", [FieldProblem(at, f"not readable as CSV: {exc}")]
        ) from None
    problems = [
        FieldProblem("/header", f"missing column {c!r}")
        for c in CSV_COLUMNS
        if c not in header and c not in ("org_type", "city", "offers")
    ]
    problems += [FieldProblem("/header", f"unknown column {c!r}") for c in header if c not in CSV_COLUMNS]
    if problems:
        raise InvalidBundle("the CSV header is not the profile columns; nothing was stored", problems)
    profiles = []
    for line, row in enumerate(records, start=2):
        if None in row:
            problems.append(FieldProblem(f"/rows/{line}", "more cells than columns"))
            continue
        fields: dict[str, Any] = {k: (v.strip() if isinstance(v, str) else v) for k, v in row.items()}
        fields["interests"] = _phrases(row.get("interests"))
        fields["offers"] = _phrases(row.get("offers"))
        for optional in ("org_type", "city"):
            fields[optional] = fields.get(optional) or None
        try:
            profiles.append(ProfileCreate.model_validate(fields))
        except ValidationError as exc:
            problems += validation_problems(exc.errors(), prefix=("rows", line))
    if problems:
        raise InvalidBundle(f"the CSV has {len(problems)} problem(s); nothing was stored", problems)
    return Bundle(format="twinning.bundle/1", profiles=profiles)


def parse_upload(body: bytes, csv_sheet: bool) -> Bundle:
    """A bundle from an uploaded body: a UTF-8 CSV sheet, or JSON."""
    if not csv_sheet:
        return parse_json_bytes(body)
    try:
        return parse_csv(body.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise InvalidBundle("the CSV is not UTF-8", [FieldProblem("/", "not UTF-8")]) from None


def read_bundle_file(path: Path) -> Bundle:
    data = path.read_bytes()
    if path.suffix.lower() == ".csv":
        return parse_csv(data.decode("utf-8-sig"))
    return parse_json_bytes(data)


def reference_problems(*, session: Session, bundle: Bundle) -> list[FieldProblem]:
    """Every repeated profile id, and every reference rule (`service.domain.references`) the bundle
    breaks once it is stored: its references are checked against its own profiles and those stored
    (a profile in the bundle counts as the bundle says), and a stored city it makes an organisation
    against the stored profiles and cohorts the bundle leaves counting it as a city."""
    problems: list[FieldProblem] = []
    seen: dict[str, int] = {}
    for i, p in enumerate(bundle.profiles):
        if p.id in seen:
            problems.append(FieldProblem(f"/profiles/{i}/id", f"{p.id!r} repeats /profiles/{seen[p.id]}/id"))
        seen.setdefault(p.id, i)

    in_bundle = {p.id: p.kind for p in bundle.profiles}
    named = {p.city for p in bundle.profiles if p.city}
    named |= {ref for ps in bundle.partnerships for ref in (ps.a, ps.b)}
    named |= {ref for e in bundle.exclusions for ref in (e.profile, e.excluded)}
    named |= {m for c in bundle.cohorts for members in c.sides.values() for m in members}
    kinds = store.profile_kinds(session, named - in_bundle.keys()) | in_bundle

    for i, p in enumerate(bundle.profiles):
        problems += city_problems(at=f"/profiles/{i}/city", profile_id=p.id, city=p.city, kinds=kinds)
    for i, ps in enumerate(bundle.partnerships):
        problems += pair_problems(ends=((f"/partnerships/{i}/a", ps.a), (f"/partnerships/{i}/b", ps.b)), kinds=kinds)
    for i, c in enumerate(bundle.cohorts):
        problems += cohort_problems(at=f"/cohorts/{i}", sides=c.sides, kinds=kinds)
    for i, e in enumerate(bundle.exclusions):
        ends = ((f"/exclusions/{i}/profile", e.profile), (f"/exclusions/{i}/excluded", e.excluded))
        problems += pair_problems(ends=ends, kinds=kinds)

    # a stored city the bundle makes an organisation: what the bundle does not rewrite must not count it a city
    stored = store.profile_kinds(session, [p.id for p in bundle.profiles if p.kind != "city"])
    rewritten_cohorts = {store.cohort_id(c) for c in bundle.cohorts}
    for i, p in enumerate(bundle.profiles):
        if stored.get(p.id) == "city" and p.kind != "city":
            problems += kept_kind_problems(
                at=f"/profiles/{i}/kind",
                profile_id=p.id,
                kind=p.kind,
                organisations=[o for o in store.organisations_in(session, p.id) if o not in in_bundle],
                cohorts=[c for c in store.cohorts_with(session, p.id) if c not in rewritten_cohorts],
            )
    return problems


def import_bundle(
    *, session: Session, live: LiveIndex | None, bundle: Bundle, accepted_by: str | None
) -> ImportSummary:
    """Check every reference, upsert everything in one transaction, then re-index the profiles whose text changed.

    If any reference breaks a rule (`reference_problems`), nothing is stored; if a concurrent write
    stores one of the same new rows first, nothing is stored either (`Conflict`).
    The CLI passes no `live`: it holds no index (a server builds its own at start).
    """
    problems = reference_problems(session=session, bundle=bundle)
    if problems:
        raise InvalidBundle(f"the bundle has {len(problems)} problem(s); nothing was stored", problems)
    try:
        summary, changed = store.import_bundle(session, bundle, accepted_by)
        session.commit()
    except IntegrityError:
        # a concurrent write stored one of the same new rows (a profile id, a pair) first
        session.rollback()
        raise Conflict(
            "another write stored some of the same profiles or pairs while this import was under way; "
            "nothing was stored: send the bundle again"
        ) from None
    if live is not None:
        live.profiles_changed(changed)
    return summary


def export_bundle(*, session: Session) -> dict[str, Any]:
    """Everything stored, as a `twinning.bundle/1` document that imports back unchanged."""
    return store.export_bundle(session)
