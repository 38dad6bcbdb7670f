"""Excel workbooks (.xlsx, openpyxl) out: the stored profiles, a profile's current suggestions, a cohort's
pairing, and the blank template for an import.

The profiles workbook has exactly the columns an import reads (`service.domain.bundles.read_xlsx`),
each phrase on a line of its own within its cell, so that exporting and importing it again changes
nothing. Every text is written as text: a description starting with "=" is never a formula.
"""

import io
from collections.abc import Iterable, Sequence
from typing import Any

import pycountry
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy.orm import Session

from matching.types import KINDS, ORG_TYPES
from service.db import store
from service.domain.bundles import CSV_COLUMNS, EXAMPLE, PROFILES_SHEET
from service.schemas import MAX_DESCRIPTION, MAX_PHRASE, MAX_PHRASES, PairingOut, SuggestionList

__all__ = ["profiles_workbook", "suggestions_workbook", "pairing_workbook", "template_workbook"]

# what each column of the profiles sheet holds, as the template's second sheet explains it
COLUMN_HELP: dict[str, tuple[str, str]] = {
    "id": ("yes", "A stable id of your choosing: 1 to 64 lower-case letters, digits, dots, dashes or underscores."),
    "kind": ("yes", "city (a city, region or alliance of cities) or organisation."),
    "name": ("yes", "The name people know it by."),
    "country": ("yes", "The two-letter ISO 3166-1 code of its country (see the list below), such as NL or KR."),
    "bloc": ("yes", "The programme side it belongs to, such as EU, KR or JP: partner cities come from other blocs."),
    "org_type": ("organisations", "Leave empty for a city. For an organisation, one of the types below."),
    "city": ("no", "For an organisation: the id of the city profile it is based in, if that city has one."),
    "description": ("yes", f"Who it is and what it wants from cooperation; at most {MAX_DESCRIPTION:,} characters."),
    "interests": (
        "cities",
        f"What it wants to learn or find: short phrases, one per line in the cell (or separated by ;), "
        f"at most {MAX_PHRASES} of at most {MAX_PHRASE} characters. A city needs at least one.",
    ),
    "offers": ("no", "What it can share with a partner: phrases as for interests."),
}
WRAP = Alignment(wrap_text=True, vertical="top")
BOLD = Font(bold=True)


def _texts(sheet: Worksheet, values: Iterable[Any]) -> None:
    """Append a row, every string as text (never a formula) and wrapped at its line breaks."""
    sheet.append(list(values))
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"
        cell.alignment = WRAP


def _header(sheet: Worksheet, names: Sequence[str], widths: Sequence[int]) -> None:
    sheet.append(list(names))
    for i, width in enumerate(widths, start=1):
        sheet.cell(row=1, column=i).font = BOLD
        sheet.column_dimensions[get_column_letter(i)].width = width
    sheet.freeze_panes = "A2"


def _bytes(workbook: Workbook) -> bytes:
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


PROFILE_WIDTHS = (22, 13, 30, 9, 8, 16, 18, 60, 40, 40)


def _profiles_sheet(workbook: Workbook) -> Worksheet:
    sheet = workbook.active
    sheet.title = PROFILES_SHEET
    _header(sheet, CSV_COLUMNS, PROFILE_WIDTHS)
    return sheet


def profiles_workbook(*, session: Session) -> bytes:
    """Every stored profile, one per row, in the columns an import reads: it imports back unchanged."""
    workbook = Workbook()
    sheet = _profiles_sheet(workbook)
    for p in store.export_bundle(session)["profiles"]:
        row = {**p, "interests": "\n".join(p["interests"]), "offers": "\n".join(p["offers"])}
        _texts(sheet, (row.get(c) or None for c in CSV_COLUMNS))
    return _bytes(workbook)


def template_workbook() -> bytes:
    """The blank import template: the profile columns with one example row (left out when the template
    is imported), pick lists for kind and org_type, and a second sheet explaining every column, with
    the allowed organisation types and country codes."""
    workbook = Workbook()
    sheet = _profiles_sheet(workbook)
    _texts(sheet, (v or None for v in EXAMPLE))
    for column, choices in (("kind", KINDS), ("org_type", ORG_TYPES)):
        letter = get_column_letter(CSV_COLUMNS.index(column) + 1)
        pick = DataValidation(type="list", formula1=f'"{",".join(choices)}"', allow_blank=True)
        pick.add(f"{letter}2:{letter}5000")
        sheet.add_data_validation(pick)

    help_sheet = workbook.create_sheet("Columns")
    _header(help_sheet, ("column", "required", "what it holds"), (14, 14, 100))
    for column in CSV_COLUMNS:
        required, meaning = COLUMN_HELP[column]
        _texts(help_sheet, (column, required, meaning))
    _texts(help_sheet, ())
    _texts(help_sheet, ("org_type", "allowed values", ", ".join(ORG_TYPES)))
    _texts(help_sheet, ("kind", "allowed values", ", ".join(KINDS)))
    _texts(help_sheet, ())
    _texts(help_sheet, ("country", "code", "country"))
    for row in help_sheet[help_sheet.max_row]:
        row.font = BOLD
    for country in sorted(pycountry.countries, key=lambda c: c.alpha_2):
        _texts(help_sheet, ("", country.alpha_2, country.name))
    return _bytes(workbook)


def suggestions_workbook(suggestions: SuggestionList, *, profile_name: str) -> bytes:
    """A profile's current suggestions: rank, who, score, the themes they share and the best matched phrases."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Suggestions"
    _header(
        sheet,
        ("rank", "id", "name", "kind", "country", "bloc", "score", "shared themes", "best matched phrases"),
        (6, 22, 30, 13, 9, 8, 8, 36, 80),
    )
    for s in suggestions.items:
        phrases = [f"{m.need} ↔ {m.match} ({m.similarity:.2f})" for m in s.matches if m.close][:5]
        _texts(
            sheet,
            (
                s.rank,
                s.id,
                s.name,
                s.kind,
                s.country,
                s.bloc,
                round(s.score, 4),
                "\n".join(t.label for t in s.shared_themes) or None,
                "\n".join(phrases) or None,
            ),
        )
    where = f"live at {suggestions.computed_at:%Y-%m-%d %H:%M} UTC" if suggestions.computed_at else "live"
    source = f"run #{suggestions.run_id}" if suggestions.run_id else where
    info = workbook.create_sheet("About")
    _texts(info, ("profile", profile_name))
    _texts(info, ("suggested", f"{suggestions.target} profiles"))
    _texts(info, ("ranking", source))
    return _bytes(workbook)


def pairing_workbook(pairing: PairingOut, *, cohort_name: str) -> bytes:
    """A cohort's proposed pairing: each pair with its names, score, whether it is locked (agreed), the
    themes it shares and its best matched phrases; then the cities left unpaired."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Pairing"
    _header(
        sheet,
        ("a", "a name", "b", "b name", "score", "locked", "shared themes", "best matched phrases"),
        (22, 30, 22, 30, 8, 8, 36, 80),
    )
    for p in pairing.pairs:
        phrases = [f"{m.need} ↔ {m.match} ({m.similarity:.2f})" for m in p.matches if m.close][:5]
        _texts(
            sheet,
            (
                p.a,
                p.a_name,
                p.b,
                p.b_name,
                round(p.score, 4),
                "yes" if p.locked else "no",
                "\n".join(t.label for t in p.shared_themes) or None,
                "\n".join(phrases) or None,
            ),
        )
    unpaired = workbook.create_sheet("Unpaired")
    _header(unpaired, ("city", "its best options"), (22, 80))
    for u in pairing.unpaired:
        _texts(unpaired, (u.id, ", ".join(f"{c.id} ({c.score:.2f})" for c in u.best_options) or None))
    info = workbook.create_sheet("About")
    _texts(info, ("cohort", cohort_name))
    _texts(info, ("total score", round(pairing.total, 4)))
    return _bytes(workbook)
