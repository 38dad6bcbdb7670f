"""The cohort heat map's SVG: a cell per pair, linked, shaded darker for higher scores, marked by its state."""

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.pairing import ScoreGrid
from service.web.heatmap import BLUES, heatmap, mark_of, shade

SVG = "{http://www.w3.org/2000/svg}"
GRID = ScoreGrid(
    rows_side="EU",
    cols_side="KR",
    rows=("eindhoven", "tampere"),
    cols=("seoul", "busan", "suwon"),
    scores=((0.91, 0.40, 0.12), (0.05, 0.66, 0.33)),
)
NAMES = {"eindhoven": "Eindhoven", "tampere": "Tampere & <Region>"} | {m: m.title() for m in GRID.cols}
AGREED = {frozenset(("eindhoven", "seoul"))}
PROPOSED = AGREED | {frozenset(("tampere", "busan"))}
FORBIDDEN = {frozenset(("tampere", "suwon"))}


def _svg(**changes) -> ET.Element:
    options = dict(
        names=NAMES,
        proposed=PROPOSED,
        agreed=AGREED,
        forbidden=FORBIDDEN,
        href=lambda a, b: f"/app/pairs/{a}/{b}?x=1&y=2",
        id="hm",
    )
    return ET.fromstring(str(heatmap(GRID, **(options | changes))))


def _cells(svg: ET.Element) -> dict[tuple[str, str], ET.Element]:
    return {(a.get("data-a"), a.get("data-b")): a for a in svg.iter(f"{SVG}a")}


def _luminance(colour: str) -> float:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_every_pair_is_one_cell_with_its_score_and_its_names():
    cells = _cells(_svg())
    assert set(cells) == {(r, c) for r in GRID.rows for c in GRID.cols}
    busan = cells[("tampere", "busan")]
    assert busan.find(f"{SVG}title").text == "Tampere & <Region> – Busan: 0.66, proposed"
    assert [t.text for t in busan.iter(f"{SVG}text")] == ["0.66"]
    assert cells[("eindhoven", "suwon")].find(f"{SVG}title").text == "Eindhoven – Suwon: 0.12"


def test_each_cell_links_to_its_pair_for_the_pointer_only():
    for (a, b), cell in _cells(_svg()).items():
        assert cell.get("href") == f"/app/pairs/{a}/{b}?x=1&y=2"
        assert cell.get("tabindex") == "-1" and cell.get("aria-hidden") == "true"  # the table carries the links


def test_agreed_proposed_and_forbidden_pairs_are_marked_apart():
    cells = _cells(_svg())
    classes = {pair: set(cell.get("class").split()) - {"cell"} for pair, cell in cells.items()}
    assert classes == {
        ("eindhoven", "seoul"): {"agreed"},  # agreed wins over proposed: an agreed pair is kept in the pairing
        ("tampere", "busan"): {"proposed"},
        ("tampere", "suwon"): {"forbidden"},
        ("eindhoven", "busan"): set(),
        ("eindhoven", "suwon"): set(),
        ("tampere", "seoul"): set(),
    }

    def drawn(pair):
        return sorted({m.get("class") for m in cells[pair].iter() if (m.get("class") or "").startswith("mark")})

    assert drawn(("eindhoven", "seoul")) == ["mark agreed"]
    assert drawn(("tampere", "busan")) == ["mark proposed"]
    assert drawn(("tampere", "suwon")) == ["mark forbidden"]
    assert drawn(("eindhoven", "busan")) == []
    # the marks differ by line, never by colour alone
    dashes = {m.get("class"): m.get("stroke-dasharray") for c in cells.values() for m in c.iter() if m.get("class")}
    assert dashes["mark proposed"] and not dashes["mark agreed"]


def test_mark_of_reads_a_pair_either_way_round():
    marks = dict(proposed=PROPOSED, agreed=AGREED, forbidden=FORBIDDEN)
    assert mark_of("busan", "tampere", **marks) == mark_of("tampere", "busan", **marks) == "proposed"
    assert mark_of("seoul", "tampere", **marks) is None


def test_cells_are_shaded_darker_the_higher_their_score():
    cells = _cells(_svg())
    fills = {pair: cell.find(f"{SVG}rect").get("fill") for pair, cell in cells.items()}
    ranked = sorted(fills, key=lambda pair: GRID.scores[GRID.rows.index(pair[0])][GRID.cols.index(pair[1])])
    lightness = [_luminance(fills[pair]) for pair in ranked]
    assert lightness == sorted(lightness, reverse=True) and len(set(lightness)) == len(lightness)
    # dark cells print their score in light ink
    ink = {pair: cell.find(f"{SVG}text").get("class") for pair, cell in cells.items()}
    assert ink[("eindhoven", "seoul")] == "score light" and ink[("tampere", "seoul")] == "score dark"


@given(st.floats(0, 1), st.floats(0, 1))
def test_the_scale_is_one_hue_ordered_by_score(a, b):
    if a < b:
        assert _luminance(shade(a)) >= _luminance(shade(b))
    for colour in (shade(a), shade(b)):
        r, g, bl = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
        assert bl >= g >= r  # every step of the ramp is a blue


@pytest.mark.parametrize(("score", "colour"), [(0.0, BLUES[0]), (1.0, BLUES[-1]), (-3.0, BLUES[0]), (7.0, BLUES[-1])])
def test_the_scale_runs_from_lightest_to_darkest_blue_and_clips(score, colour):
    assert shade(score) == colour


def test_the_map_is_an_image_with_a_title_and_a_description():
    svg = _svg()
    assert svg.get("role") == "img"
    labelled = svg.get("aria-labelledby").split()
    texts = {el.get("id"): "".join(el.itertext()) for el in svg.iter() if el.get("id") in labelled}
    assert texts["hm-title"] == "Scores of EU (rows) with KR (columns)"
    assert texts["hm-desc"].startswith("2 by 3 pairs") and "1 proposed, 1 agreed, 1 forbidden" in texts["hm-desc"]
    # the names are escaped, never markup
    assert "Tampere & <Region>" in {t.text for t in svg.iter(f"{SVG}text")}
