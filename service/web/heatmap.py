"""A cohort's score grid as an inline SVG heat map: one side's members by another's, each cell shaded
by its pair's score and linking to that pair's reasons, the proposed and agreed pairs marked.

Drawn on the server, so the board shows it offline and without JavaScript. The shading is one hue
(ColorBrewer's sequential Blues, safe for every common colour-vision deficiency), darker for a
higher score on a fixed 0–1 scale, so two cohorts' maps compare; each cell also prints its score.
Marks differ by line, not colour: a proposed pair is outlined dashed, an agreed one solid and
ticked, a forbidden one crossed in its corner. The SVG is `role="img"` with a title and a description;
its links are for the pointer only, as the page gives the same cells as a table with the same links.
"""

from collections.abc import Callable, Mapping, Set

from markupsafe import Markup, escape

from service.domain.pairing import ScoreGrid

__all__ = ["BLUES", "shade", "mark_of", "heatmap"]

# ColorBrewer Blues, 9 classes, lightest first
BLUES = ("#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b")
_DARK_FROM = 0.55  # scores from here are shaded dark enough to need light text

CELL_W, CELL_H = 64, 36
_CHAR_W = 8.0  # a generous average character width at the 13 px label size
_MAX_LABEL = 26  # longer names are cut (the full name is in the cell's tooltip and the table)
_GAP = 8
_LEGEND_H = 64
_LEGEND_W = 400


def shade(score: float) -> str:
    """The fill of a cell: `score` clipped to 0–1, placed on the Blues ramp and interpolated."""
    x = min(max(float(score), 0.0), 1.0) * (len(BLUES) - 1)
    i = min(int(x), len(BLUES) - 2)
    t = x - i
    lo, hi = BLUES[i], BLUES[i + 1]
    channels = (round(int(lo[k : k + 2], 16) * (1 - t) + int(hi[k : k + 2], 16) * t) for k in (1, 3, 5))
    return "#" + "".join(f"{c:02x}" for c in channels)


def mark_of(
    a: str, b: str, *, proposed: Set[frozenset[str]], agreed: Set[frozenset[str]], forbidden: Set[frozenset[str]]
) -> str | None:
    """What a cell is marked as: "agreed" (a partnership of the cohort), else "proposed", else "forbidden"."""
    pair = frozenset((a, b))
    if pair in agreed:
        return "agreed"
    if pair in proposed:
        return "proposed"
    if pair in forbidden:
        return "forbidden"
    return None


def _label(name: str) -> str:
    return name if len(name) <= _MAX_LABEL else name[: _MAX_LABEL - 1] + "…"


def heatmap(
    grid: ScoreGrid,
    *,
    names: Mapping[str, str],
    proposed: Set[frozenset[str]],
    agreed: Set[frozenset[str]],
    forbidden: Set[frozenset[str]],
    href: Callable[[str, str], str],
    id: str,
) -> Markup:
    """The grid as an SVG element; `href(row, col)` is where a cell links, `id` prefixes the SVG's ids.

    Rows are `grid.rows` top to bottom, columns `grid.cols` left to right, as the grid holds them.
    """
    left = round(max((len(_label(names[m])) for m in grid.rows), default=0) * _CHAR_W) + _GAP * 2
    # column names are written up and to the right at 45°: they reach as high and as far right as
    # their length times sin 45°
    reach = round(max((len(_label(names[m])) for m in grid.cols), default=0) * _CHAR_W * 0.71)
    top = reach + _GAP * 3
    width = left + max(len(grid.cols) * CELL_W + reach, _LEGEND_W) + _GAP * 2
    height = top + len(grid.rows) * CELL_H + _GAP * 2 + _LEGEND_H
    marks = {"proposed": 0, "agreed": 0, "forbidden": 0}
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="heatmap" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-labelledby="{id}-title {id}-desc" id="{id}">',
        f'<title id="{id}-title">Scores of {escape(grid.rows_side)} (rows) '
        f"with {escape(grid.cols_side)} (columns)</title>",
    ]
    body = []
    for j, col in enumerate(grid.cols):
        x = left + j * CELL_W + CELL_W / 2
        body.append(
            f'<text class="col-label" x="{x:g}" y="{top - _GAP}" transform="rotate(-45 {x:g} {top - _GAP})">'
            f"{escape(_label(names[col]))}</text>"
        )
    for i, row in enumerate(grid.rows):
        y = top + i * CELL_H
        body.append(
            f'<text class="row-label" x="{left - _GAP}" y="{y + CELL_H / 2:g}" text-anchor="end" '
            f'dominant-baseline="central">{escape(_label(names[row]))}</text>'
        )
        for j, col in enumerate(grid.cols):
            score = grid.scores[i][j]
            x = left + j * CELL_W
            mark = mark_of(row, col, proposed=proposed, agreed=agreed, forbidden=forbidden)
            if mark:
                marks[mark] += 1
            tip = f"{names[row]} – {names[col]}: {score:.2f}" + (f", {mark}" if mark else "")
            ink = "light" if score >= _DARK_FROM else "dark"
            cell = [
                f'<a href="{escape(href(row, col))}" tabindex="-1" aria-hidden="true" class="cell'
                f'{" " + mark if mark else ""}" data-a="{escape(row)}" data-b="{escape(col)}">',
                f"<title>{escape(tip)}</title>",
                f'<rect x="{x}" y="{y}" width="{CELL_W}" height="{CELL_H}" fill="{shade(score)}"/>',
                f'<text class="score {ink}" x="{x + CELL_W / 2:g}" y="{y + CELL_H / 2:g}" text-anchor="middle" '
                f'dominant-baseline="central">{score:.2f}</text>',
            ]
            cell += _mark(mark, x + 3, y + 3)
            cell.append("</a>")
            body.append("".join(cell))
    counts = ", ".join(f"{n} {mark}" for mark, n in marks.items() if n)
    out.append(
        f'<desc id="{id}-desc">{len(grid.rows)} by {len(grid.cols)} pairs, each shaded by its score from light (0) '
        f"to dark blue (1){': ' + counts if counts else ''}. The same scores follow as a table.</desc>"
    )
    out += body
    out += _legend(top + len(grid.rows) * CELL_H + _GAP * 3, left, id)
    out.append("</svg>")
    return Markup("\n".join(out))


_STROKES = {  # presentation attributes, not CSS: the page's policy allows no inline style
    "proposed": 'fill="none" stroke="#111827" stroke-width="2.5" stroke-dasharray="5 3"',
    "agreed": 'fill="none" stroke="#111827" stroke-width="3"',
    "forbidden": 'fill="none" stroke="#111827" stroke-width="2"',
}
_HALO = 'fill="none" stroke="#ffffff" stroke-width="5"'  # under every mark, so it shows on dark cells too


def _mark(mark: str | None, x: float, y: float, w: float = CELL_W - 6, h: float = CELL_H - 6) -> list[str]:
    """A mark in a `w` × `h` box at (`x`, `y`): an outline (proposed dashed, agreed solid and ticked
    in its top left corner) or a cross in its top right corner (forbidden). In a cell it is drawn
    inside the edge, so neighbouring marks never overlap."""
    if mark is None:
        return []
    if mark == "forbidden":  # a cross in the top right corner, clear of the score
        shapes = [f'path d="M{x + w - 11:g} {y + 2:g} l9 9 m0 -9 l-9 9"']
    else:
        shapes = [f'rect x="{x:g}" y="{y:g}" width="{w:g}" height="{h:g}"']
        if mark == "agreed":
            shapes.append(f'path d="M{x + 4:g} {y + 8:g} l3 3 l6 -7"')
    return [f"<{shape} {_HALO}/>" for shape in shapes] + [
        f'<{shape} class="mark {mark}" {_STROKES[mark]}/>' for shape in shapes
    ]


def _legend(y: int, x: int, id: str) -> list[str]:
    """The shading's scale and the marks' key, below the grid."""
    ramp = 160
    stops = "".join(f'<stop offset="{i / (len(BLUES) - 1):.3f}" stop-color="{c}"/>' for i, c in enumerate(BLUES))
    key = x + ramp + 40
    return [
        f'<g class="legend" aria-hidden="true"><defs><linearGradient id="{id}-ramp">{stops}</linearGradient></defs>',
        f'<rect x="{x}" y="{y}" width="{ramp}" height="12" fill="url(#{id}-ramp)" '
        'stroke="#6b7280" stroke-width="0.5"/>',
        f'<text x="{x}" y="{y + 28}">0</text><text x="{x + ramp / 2:g}" y="{y + 28}" text-anchor="middle">score</text>',
        f'<text x="{x + ramp}" y="{y + 28}" text-anchor="end">1</text>',
        *_mark("proposed", key, y - 2, 22, 16),
        f'<text x="{key + 28}" y="{y + 11}">proposed</text>',
        *_mark("agreed", key + 112, y - 2, 22, 16),
        f'<text x="{key + 140}" y="{y + 11}">agreed</text>',
        *_mark("forbidden", key, y + 26, 22, 16),
        f'<text x="{key + 28}" y="{y + 39}">forbidden</text>',
        "</g>",
    ]
