"""Bundles in and out: reading a JSON bundle or a CSV sheet into a `Draft` (its valid entries, and every
problem found), checking it in one pass, importing it all-or-nothing, and exporting everything stored.

One pass: a file's problems are all found before any is reported, those of each field, of the rules
across fields, repeated ids and broken references together; each says where it is as the reader
finds it (`row 4, column country`, `profile 2 (“seoul”), city`), the value it is about, and what
is wrong with it in plain words (`service.wording`), beside the JSON pointer a client reads.
"""

import csv
import io
import json
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from matching.types import KINDS
from service.db import store
from service.domain.checks import profile_problems
from service.domain.references import city_problems, cohort_problems, kept_kind_problems, pair_problems
from service.errors import Conflict, FieldProblem, InvalidBundle, validation_problems
from service.live.index import LiveIndex
from service.schemas import ID_PATTERN, Bundle, CohortIn, ExclusionIn, ImportSummary, PartnershipIn, ProfileCreate
from service.wording import shown

__all__ = [
    "Draft",
    "read_object",
    "read_json",
    "read_csv",
    "read_xlsx",
    "FileKind",
    "file_kind",
    "read_upload",
    "read_file",
    "parse_bundle",
    "read_bundle_file",
    "check",
    "import_draft",
    "store_checked",
    "import_bundle",
    "export_bundle",
    "CSV_COLUMNS",
]

FORMAT = "twinning.bundle/1"
CSV_COLUMNS = ("id", "kind", "name", "country", "bloc", "org_type", "city", "description", "interests", "offers")
# a workbook's sheet of profiles, and the example row of the template (skipped when it is read back)
PROFILES_SHEET = "Profiles"
EXAMPLE = (
    "example-town",
    "city",
    "Example Town (an example: replace or delete this row)",
    "NL",
    "EU",
    "",
    "",
    "A port city of 200,000 people that wants to learn how others renew their harbours.",
    "harbour renewal\nenergy-efficient street lighting",
    "port logistics training",
)
OPTIONAL_COLUMNS = ("org_type", "city", "offers")
PHRASE_COLUMNS = ("interests", "offers")
SECTIONS: dict[str, type[BaseModel]] = {
    "profiles": ProfileCreate,
    "partnerships": PartnershipIn,
    "cohorts": CohortIn,
    "exclusions": ExclusionIn,
}
POINTER_ORDER = ("", "header", "format", "rows", *SECTIONS)
# the separators a spreadsheet writes a CSV with: `,`, or `;` where the decimal point is a comma
SEPARATORS = ",;\t"
# a phrase cell: `;`-separated, or one phrase per line (Alt+Enter in a spreadsheet cell)
PHRASE_SPLIT = re.compile(r"[;\r\n]")


def _label(section: str) -> str:
    return {"profiles": "profile", "partnerships": "partnership", "cohorts": "cohort", "exclusions": "exclusion"}.get(
        section, section
    )


def _parts(pointer: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.strip("/").split("/") if p != ""]


def _inner(parts: Sequence[str]) -> str:
    """A field's path inside an entry as words: `interests/1` → "interests, phrase 2"."""
    words: list[str] = []
    for i, part in enumerate(parts):
        before = parts[i - 1] if i else ""
        if part.isdigit() and before in ("interests", "offers", "themes"):
            words.append(f"phrase {int(part) + 1}")
        elif before == "sides":
            words[-1] = f"side {part}"
        elif part.isdigit() and i >= 2 and parts[i - 2] == "sides":
            words.append(f"member {int(part) + 1}")
        else:
            words.append(part)
    return ", ".join(words)


@dataclass(frozen=True)
class JsonSource:
    """A JSON bundle as read, to name the entries problems are in and find their values."""

    raw: Any

    def where(self, pointer: str) -> str:
        parts = _parts(pointer)
        if not parts:
            return "the whole file"
        if len(parts) > 1 and parts[1].isdigit():
            i = int(parts[1])
            label = f"{_label(parts[0])} {i + 1}"
            items = self.raw.get(parts[0]) if isinstance(self.raw, dict) else None
            if isinstance(items, list) and i < len(items) and isinstance(items[i], dict):
                ident = items[i].get("id") or items[i].get("name")
                if isinstance(ident, str) and ident:
                    label += f" (“{shown(ident)}”)"
            rest = _inner(parts[2:])
            return label + (f", {rest}" if rest else "")
        return _inner(parts)

    def value(self, pointer: str) -> str | None:
        node = self.raw
        for part in _parts(pointer):
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return None
        return None if isinstance(node, dict) else shown(node)


@dataclass(frozen=True)
class SheetSource:
    """A sheet as read (a CSV's, a workbook's), to name the rows and columns problems are in and find their cells."""

    cells: dict[int, dict[str, str]]  # spreadsheet row number → column → cell text
    sheet: str | None = None  # a workbook's sheet
    letters: dict[str, str] = field(default_factory=dict)  # a workbook's column letters, by column name

    def where(self, pointer: str) -> str:
        parts = _parts(pointer)
        sheet = [f"sheet “{self.sheet}”"] if self.sheet else []
        if not parts:
            return ", ".join(sheet) or "the whole file"
        if parts[0] == "header":
            return ", ".join(sheet + ["the header (row 1)"])
        if parts[0] == "rows" and len(parts) > 1:
            words = sheet + [f"row {parts[1]}"]
            if len(parts) > 2:
                letter = self.letters.get(parts[2])
                words.append(f"column {letter} ({parts[2]})" if letter else f"column {parts[2]}")
            if len(parts) > 3 and parts[3].isdigit():
                words.append(f"phrase {int(parts[3]) + 1}")
            return ", ".join(words)
        return " / ".join(parts)

    def value(self, pointer: str) -> str | None:
        parts = _parts(pointer)
        if len(parts) < 3 or parts[0] != "rows" or not parts[1].isdigit():
            return None
        cell = self.cells.get(int(parts[1]), {}).get(parts[2])
        if cell is not None and len(parts) > 3 and parts[3].isdigit():
            phrases = _phrases(cell)
            cell = phrases[int(parts[3])] if int(parts[3]) < len(phrases) else None
        return shown(cell)


@dataclass(frozen=True)
class Entry:
    """A profile entry of a file as far as it can be read, valid or not: where it is, its id, and its
    kind and city where those are readable."""

    place: str
    id: str
    kind: str | None
    city: str | None

    @classmethod
    def read(cls, place: str, raw: dict[str, Any]) -> "Entry | None":
        ident, kind, city = raw.get("id"), raw.get("kind"), raw.get("city")
        if not isinstance(ident, str) or not ident:
            return None
        readable_city = city if isinstance(city, str) and re.fullmatch(ID_PATTERN, city) else None
        return cls(place, ident, kind if kind in KINDS else None, readable_city)


@dataclass
class Draft:
    """A file read as far as it goes: its valid entries as a bundle, and every problem found reading it.

    `places` are the pointers of the bundle's profiles in the file (`/rows/4`, `/profiles/3`), and
    `entries` every profile entry whose id could be read, valid or not: so that the checks after
    reading point at rows, and a profile with a problem of its own is not also reported missing by
    every entry that names it. `notes` say how the file was read.
    """

    bundle: Bundle
    problems: list[FieldProblem]
    places: list[str]
    entries: list[Entry]
    source: JsonSource | SheetSource
    notes: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, bundle: Bundle) -> "Draft":
        """A bundle made in code (the CLI's, a test's), as if read from its JSON."""
        places = [f"/profiles/{i}" for i in range(len(bundle.profiles))]
        entries = [Entry(at, p.id, p.kind, p.city) for at, p in zip(places, bundle.profiles, strict=True)]
        return cls(bundle, [], places, entries, JsonSource(bundle.model_dump(mode="json")))

    def require_readable(self) -> Bundle:
        """The bundle, if the file had no problem of its own (its references are `check`ed on import)."""
        if self.problems:
            problems = [self.worded(p) for p in self.problems]
            raise InvalidBundle(f"the file has {len(problems)} problem(s); nothing was stored", problems)
        return self.bundle

    def worded(self, p: FieldProblem) -> FieldProblem:
        """`p` with where it is, its value and its message, as the reader of this file reads them."""
        value = p.value if p.value is not None else self.source.value(p.pointer)
        return replace(p, where=p.where or self.source.where(p.pointer), value=value, message=p.message or p.detail)


def _file_problem(detail: str, message: str, at: str = "/") -> FieldProblem:
    return FieldProblem(at, detail, message=message)


def read_object(raw: Any) -> Draft:
    """A parsed JSON document as a draft bundle: every entry of every section checked on its own."""
    source = JsonSource(raw)
    if not isinstance(raw, dict):
        problem = _file_problem(
            "expected an object", "the file is not a bundle: a bundle is a JSON object with a format and profiles"
        )
        return Draft(Bundle(format=FORMAT), [problem], [], [], source)
    problems: list[FieldProblem] = []
    if raw.get("format") != FORMAT:
        try:
            Bundle.model_validate({"format": raw.get("format")})
        except ValidationError as exc:
            problems += validation_problems(exc.errors())
    valid: dict[str, list[Any]] = {name: [] for name in SECTIONS}
    places: list[str] = []
    entries: list[Entry] = []
    for name, model in SECTIONS.items():
        items = raw.get(name, [])
        if not isinstance(items, list):
            problems.append(
                FieldProblem(f"/{name}", "Input should be a valid list", value=shown(items), message="should be a list")
            )
            continue
        for i, item in enumerate(items):
            if name == "profiles":
                if not isinstance(item, dict):
                    problems += validation_problems([_not_an_object(item, (name, i))])
                    continue
                if entry := Entry.read(f"/profiles/{i}", item):
                    entries.append(entry)
                profile, found = profile_problems(item, model=model, prefix=(name, i))
                if profile is not None:
                    places.append(f"/profiles/{i}")
                    valid[name].append(profile)
                problems += found
                continue
            try:
                valid[name].append(model.model_validate(item))
            except ValidationError as exc:
                problems += validation_problems(exc.errors(), prefix=(name, i))
    bundle = Bundle(format=FORMAT, **valid)
    return Draft(bundle, problems, places, entries, source)


def _not_an_object(item: Any, loc: tuple[Any, ...]) -> dict[str, Any]:
    return {"type": "model_type", "loc": loc, "msg": "Input should be an object", "input": item}


def read_json(body: bytes) -> Draft:
    """A JSON upload as a draft bundle; a body that is not JSON is one problem at the whole file."""
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        problem = _file_problem(f"not valid JSON: {exc}", f"the file is not valid JSON ({exc})")
        return Draft(Bundle(format=FORMAT), [problem], [], [], JsonSource(None))
    except RecursionError:
        problem = _file_problem("nested too deeply", "the JSON is nested too deeply to read")
        return Draft(Bundle(format=FORMAT), [problem], [], [], JsonSource(None))
    return read_object(raw)


def _phrases(cell: str | None) -> list[str]:
    return [p.strip() for p in PHRASE_SPLIT.split(cell or "") if p.strip()]


def _decode(body: bytes) -> tuple[str, list[str]]:
    """A sheet's text: UTF-8 (with or without the byte-order mark spreadsheets write), else Windows-1252,
    what a Western European spreadsheet saves a plain CSV in; with a note when it was the latter."""
    try:
        return body.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        pass
    try:
        return body.decode("cp1252"), ["The file is not UTF-8; it was read as Windows-1252 (Western European)."]
    except UnicodeDecodeError:
        raise InvalidBundle(
            "the CSV is not UTF-8 text",
            [_file_problem("not UTF-8", "the file is not text a spreadsheet saves: save it as CSV UTF-8")],
        ) from None


def _separator(text: str) -> str:
    """The separator the header row uses (`csv.Sniffer` on that row only: the header holds no phrase
    lists, whose `;` would mislead it on the rows below), `,` if it cannot tell."""
    header = text.split("\n", 1)[0]
    try:
        return csv.Sniffer().sniff(header, delimiters=SEPARATORS).delimiter
    except csv.Error:
        return ","


def read_csv(body: bytes) -> Draft:
    """A CSV sheet as a draft bundle: one profile per row, `,`- or `;`-separated, phrases `;`-separated
    or one per line within their cell; problems point at `/rows/<row>/<column>`.

    Rows are numbered as a spreadsheet shows them, the header being row 1.
    """
    text, notes = _decode(body)
    reader = csv.reader(io.StringIO(text), delimiter=_separator(text))
    records: list[list[str]] = []
    try:
        for record in reader:
            records.append(record)
    except csv.Error as exc:  # a cell over the csv module's limit (128 KiB), say: nothing after it can be read
        row = len(records) + 1  # the record after the last one read is where the bad one starts
        at = "/header" if row == 1 else f"/rows/{row}"
        problem = _file_problem(
            f"not readable as CSV: {exc}", f"the file cannot be read from this row on ({exc}): is a cell too long?", at
        )
        return Draft(Bundle(format=FORMAT), [problem], [], [], SheetSource({}), notes)
    draft = read_rows(records[0] if records else [], list(enumerate(records[1:], start=2)))
    draft.notes = notes
    return draft


def read_rows(header: Sequence[Any], rows: Sequence[tuple[int, Sequence[Any]]], *, sheet: str | None = None) -> Draft:
    """A sheet's header and numbered rows (a CSV's, a workbook's) as a draft bundle, every problem at once.

    A header problem does not stop the rows being read: an unknown column is left out, and a missing
    one is reported once, on the header, not again on every row.
    """
    names = [str(h or "").strip().lower() for h in header]
    problems: list[FieldProblem] = []
    for column in CSV_COLUMNS:
        if column not in names and column not in OPTIONAL_COLUMNS:
            problems.append(
                FieldProblem(
                    "/header",
                    f"missing column {column!r}",
                    value=column,
                    message=f"the column “{column}” is missing: the first row names the columns "
                    + ", ".join(CSV_COLUMNS),
                )
            )
    seen: set[str] = set()
    for name in names:
        if name in seen and name:
            problems.append(
                FieldProblem("/header", f"repeated column {name!r}", value=name, message="this column is named twice")
            )
        seen.add(name)
        if name not in CSV_COLUMNS and name:
            hint = next((f" (are the columns separated by “{s}”?)" for s in ";,\t" if s in name), "")
            problems.append(
                FieldProblem(
                    "/header",
                    f"unknown column {name!r}",
                    value=name,
                    message=f"“{name}” is not a column of the sheet{hint}: the columns are " + ", ".join(CSV_COLUMNS),
                )
            )
    absent = {c for c in CSV_COLUMNS if c not in names}
    letters = {name: get_column_letter(i + 1) for i, name in enumerate(names)} if sheet else {}
    source = SheetSource({}, sheet, letters)
    profiles: list[ProfileCreate] = []
    places: list[str] = []
    entries: list[Entry] = []
    for number, cells in rows:
        texts = ["" if c is None else str(c).strip() for c in cells]
        if not any(texts):
            continue  # the blank rows a spreadsheet leaves below its data
        at = f"/rows/{number}"
        row = {name: text for name, text in zip(names, texts, strict=False) if name in CSV_COLUMNS}
        source.cells[number] = row
        if entry := Entry.read(at, row):
            entries.append(entry)
        if len(texts) > len(names) and any(texts[len(names) :]):
            problems.append(
                FieldProblem(
                    at,
                    "more cells than columns",
                    message=f"this row has {len(texts)} cells but the header names {len(names)} columns",
                )
            )
            continue
        fields: dict[str, Any] = {k: v for k, v in row.items() if v and k not in PHRASE_COLUMNS}
        if "country" in fields:  # as the form reads it: "nl" is NL
            fields["country"] = fields["country"].upper()
        for column in PHRASE_COLUMNS:
            fields[column] = _phrases(row.get(column))
        profile, found = profile_problems(fields, model=ProfileCreate, prefix=("rows", number))
        problems += [p for p in found if not (p.detail == "Field required" and _parts(p.pointer)[-1] in absent)]
        if profile is not None:
            profiles.append(profile)
            places.append(at)
    return Draft(Bundle(format=FORMAT, profiles=profiles), problems, places, entries, source)


def _cell_text(value: Any) -> str:
    """A workbook cell as the text it shows: a whole number without its `.0`, a date as ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def read_xlsx(body: bytes) -> Draft:
    """An Excel workbook (.xlsx) as a draft bundle, read like a CSV sheet: its sheet “Profiles”, or its
    first; the same columns, checks and problems, which also name the sheet and the column's letter.
    The template's example row (`service.domain.workbooks`) is left out, so the template imports empty."""
    try:
        workbook = load_workbook(io.BytesIO(body), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        problem = _file_problem(
            f"not an xlsx workbook: {exc}", "the file is not an Excel workbook (.xlsx): save it as an .xlsx or a CSV"
        )
        return Draft(Bundle(format=FORMAT), [problem], [], [], SheetSource({}))
    try:
        sheet = workbook[PROFILES_SHEET] if PROFILES_SHEET in workbook.sheetnames else workbook.worksheets[0]
        rows = [[_cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()
    header = rows[0] if rows else []
    numbered = [(n, row) for n, row in enumerate(rows[1:], start=2) if tuple(row[: len(EXAMPLE)]) != EXAMPLE]
    return read_rows(header, numbered, sheet=sheet.title)


FileKind = Literal["json", "csv", "xlsx"]
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
READERS = {"json": read_json, "csv": read_csv, "xlsx": read_xlsx}


def file_kind(*, filename: str | None, media_type: str | None, body: bytes) -> FileKind:
    """What an upload is: a workbook (by its zip signature, name or media type), a CSV sheet, or JSON."""
    name, media = (filename or "").lower(), (media_type or "").split(";")[0].strip().lower()
    if body.startswith(b"PK\x03\x04") or name.endswith(".xlsx") or media == XLSX_MEDIA_TYPE:
        return "xlsx"
    if name.endswith(".csv") or media in ("text/csv", "application/csv"):
        return "csv"
    return "json"


def read_upload(body: bytes, *, kind: FileKind) -> Draft:
    """A draft bundle from an uploaded body of that kind."""
    return READERS[kind](body)


def read_file(path: Path) -> Draft:
    """A draft bundle from a file, read by its name's ending (`.xlsx`, `.csv`) or as JSON."""
    body = path.read_bytes()
    return read_upload(body, kind=file_kind(filename=path.name, media_type=None, body=body))


def parse_bundle(raw: Any) -> Bundle:
    """A parsed JSON document as a bundle; `InvalidBundle` lists every problem it has of its own."""
    return read_object(raw).require_readable()


def read_bundle_file(path: Path) -> Bundle:
    """A bundle file as a bundle (what `twinning eval` reads); `InvalidBundle` lists its problems."""
    return read_file(path).require_readable()


def _order(problem: FieldProblem) -> tuple[Any, ...]:
    """Problems in the order of the file: the whole file, the header and the format first, then entry by entry."""
    parts = _parts(problem.pointer) or [""]
    head = POINTER_ORDER.index(parts[0]) if parts[0] in POINTER_ORDER else len(POINTER_ORDER)
    return (head, *[(0, int(p), "") if p.isdigit() else (1, _field_order(p), p) for p in parts[1:]])


def _field_order(name: str) -> int:
    """A field's place in a profile, as the sheet's columns and the bundle format list them."""
    return CSV_COLUMNS.index(name) if name in CSV_COLUMNS else len(CSV_COLUMNS)


def _repeated_ids(draft: Draft) -> list[FieldProblem]:
    first: dict[str, str] = {}
    problems = []
    for entry in draft.entries:
        if entry.id in first:
            where = draft.source.where(first[entry.id])
            problems.append(
                FieldProblem(
                    f"{entry.place}/id",
                    f"{entry.id!r} repeats {first[entry.id]}/id",
                    value=shown(entry.id),
                    message=f"“{shown(entry.id)}” is already the id of {where}: every profile needs an id of its own",
                )
            )
        first.setdefault(entry.id, entry.place)
    return problems


def reference_problems(*, session: Session, draft: Draft) -> list[FieldProblem]:
    """Every reference rule (`service.domain.references`) the draft breaks once stored: the cities its
    profile entries name, valid or not, and its valid pairs and cohorts. References are checked
    against the file's own profiles and those stored (a profile in the file counts as the file says,
    one whose kind cannot be read as a city, so that its own problem is not repeated on every entry
    naming it), and a stored city the file makes an organisation against the stored profiles and
    cohorts the file leaves counting it as a city."""
    bundle = draft.bundle
    problems: list[FieldProblem] = []
    in_file = {e.id: e.kind or "city" for e in draft.entries}
    named = {e.city for e in draft.entries if e.city}
    named |= {ref for ps in bundle.partnerships for ref in (ps.a, ps.b)}
    named |= {ref for e in bundle.exclusions for ref in (e.profile, e.excluded)}
    named |= {m for c in bundle.cohorts for members in c.sides.values() for m in members}
    kinds = store.profile_kinds(session, named - in_file.keys()) | in_file

    for e in draft.entries:
        problems += city_problems(at=f"{e.place}/city", profile_id=e.id, city=e.city, kinds=kinds)
    for i, ps in enumerate(bundle.partnerships):
        problems += pair_problems(ends=((f"/partnerships/{i}/a", ps.a), (f"/partnerships/{i}/b", ps.b)), kinds=kinds)
    for i, c in enumerate(bundle.cohorts):
        problems += cohort_problems(at=f"/cohorts/{i}", sides=c.sides, kinds=kinds)
    for i, e in enumerate(bundle.exclusions):
        ends = ((f"/exclusions/{i}/profile", e.profile), (f"/exclusions/{i}/excluded", e.excluded))
        problems += pair_problems(ends=ends, kinds=kinds)

    # a stored city the file makes an organisation: what the file does not rewrite must not count it a city
    stored = store.profile_kinds(session, [p.id for p in bundle.profiles if p.kind != "city"])
    rewritten_cohorts = {store.cohort_id(c) for c in bundle.cohorts}
    for at, p in zip(draft.places, bundle.profiles, strict=True):
        if stored.get(p.id) == "city" and p.kind != "city":
            problems += kept_kind_problems(
                at=f"{at}/kind",
                profile_id=p.id,
                kind=p.kind,
                organisations=[o for o in store.organisations_in(session, p.id) if o not in in_file],
                cohorts=[c for c in store.cohorts_with(session, p.id) if c not in rewritten_cohorts],
            )
    return problems


def check(*, session: Session, draft: Draft) -> list[FieldProblem]:
    """Every problem of the draft, in one pass: its own, repeated ids and broken references, in the
    order of the file, each with where it is, its value and its message."""
    found = draft.problems + _repeated_ids(draft) + reference_problems(session=session, draft=draft)
    return sorted((draft.worded(p) for p in found), key=_order)


def import_draft(*, session: Session, live: LiveIndex | None, draft: Draft, accepted_by: str | None) -> ImportSummary:
    """Check the draft in one pass (`check`), upsert everything in one transaction, then re-index the
    profiles whose text changed.

    If anything breaks a rule, nothing is stored (`InvalidBundle` lists every problem); if a concurrent
    write stores one of the same new rows first, nothing is stored either (`Conflict`).
    The CLI passes no `live`: it holds no index (a server builds its own at start).
    """
    problems = check(session=session, draft=draft)
    if problems:
        raise InvalidBundle(f"the file has {len(problems)} problem(s); nothing was stored", problems)
    return store_checked(session=session, live=live, draft=draft, accepted_by=accepted_by)


def store_checked(*, session: Session, live: LiveIndex | None, draft: Draft, accepted_by: str | None) -> ImportSummary:
    """Upsert a draft `check` found no problem in, in one transaction, then re-index the profiles
    whose text changed; `Conflict` if a concurrent write stores one of the same new rows first."""
    try:
        summary, changed = store.import_bundle(session, draft.bundle, accepted_by)
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


def import_bundle(
    *, session: Session, live: LiveIndex | None, bundle: Bundle, accepted_by: str | None
) -> ImportSummary:
    """`import_draft` of a bundle made in code."""
    return import_draft(session=session, live=live, draft=Draft.of(bundle), accepted_by=accepted_by)


def export_bundle(*, session: Session) -> dict[str, Any]:
    """Everything stored, as a `twinning.bundle/1` document that imports back unchanged."""
    return store.export_bundle(session)
