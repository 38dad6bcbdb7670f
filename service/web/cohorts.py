"""The cohort board: both sides, the proposed optimal pairing with reasons and regrets, and accepting it;
creating, editing and deleting a cohort (managers)."""

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from matching.scoring import Kind
from service.api.deps import CohortIdPath, ProfileIdPath, SessionDep
from service.db.models import Cohort
from service.domain import cohorts
from service.domain.pairing import CohortBoard, accept_pairs, cohort_board, pair_reasons, pairing_view
from service.errors import AlreadyExists, Conflict, FieldProblem, InvalidInput, TwinningError, validation_problems
from service.live.index import LiveIndex
from service.schemas import CohortBody, CohortIn, PairingRequest
from service.web.deps import (
    FormViewerDep,
    LiveDep,
    PageRoute,
    Viewer,
    ViewerDep,
    csv_response,
    local_path,
    profile_name,
    redirect,
    render,
)
from service.web.heatmap import heatmap, mark_of
from service.web.suggestions import WORDINGS

router = APIRouter(prefix="/app/cohorts", route_class=PageRoute, include_in_schema=False)
# outside /app/cohorts/…, where every name is a cohort id (“new” is a valid one)
creation = APIRouter(prefix="/app/new", route_class=PageRoute, include_in_schema=False)


@router.get("")
def cohort_list(request: Request, db: SessionDep, viewer: ViewerDep) -> Response:
    return render(request, "cohorts.html", viewer, nav="cohorts", cohorts=cohorts.list_cohorts(session=db))


def _pair(value: str) -> list[str]:
    a, _, b = value.partition("|")
    return [a.strip(), b.strip()]


def pairing_options(request: Request) -> tuple[dict, PairingRequest | None, list[FieldProblem]]:
    """The board's option form (locks, forbidden pairs, partnerships, minimum score) as a PairingRequest."""
    params = request.query_params
    lock = [_pair(v) for v in params.getlist("lock") if v.strip()]
    forbid = [_pair(v) for v in params.getlist("forbid") if v.strip()]
    for name, pairs in (("lock", lock), ("forbid", forbid)):
        a, b = params.get(f"{name}_a", "").strip(), params.get(f"{name}_b", "").strip()
        if a and b and [a, b] not in pairs:
            pairs.append([a, b])
    raw = {
        "lock": lock,
        "forbid": forbid,
        "partnerships": "ignore" if params.get("partnerships") == "ignore" else "auto",
        "min_score": params.get("min_score", "").strip() or 0.0,
    }
    try:
        return raw, PairingRequest.model_validate(raw), []
    except ValidationError as exc:
        return raw, None, validation_problems(exc.errors())


def valid_pairing_options(request: Request) -> PairingRequest:
    """`pairing_options` for a page that cannot show the form's problems: invalid options are a 422."""
    _, body, problems = pairing_options(request)
    if body is None:
        raise InvalidInput("the pairing options are not valid", problems)
    return body


def _board(
    db: Session, live: LiveIndex, cohort: Cohort, body: PairingRequest | None
) -> tuple[CohortBoard | None, str | None, list[FieldProblem]]:
    if body is None:
        return None, None, []
    try:
        return cohort_board(session=db, live=live, cohort=cohort, options=body), None, []
    except TwinningError as exc:  # an impossible lock, a pair outside the cohort: shown on the board
        return None, exc.detail, exc.errors


def _pictures(board: CohortBoard, cohort_id: str, query: str) -> list[dict]:
    """Each pair of sides' heat map and its table: every cell links to its pair's reasons, a
    proposed pair's card on the board, any other pair's own page (with the board's options)."""
    cards = {frozenset((p.a, p.b)): f"#pair-{i}" for i, p in enumerate(board.pairing.pairs, start=1)}
    suffix = f"?{query}" if query else ""

    def href(a: str, b: str) -> str:
        return cards.get(frozenset((a, b))) or f"/app/cohorts/{cohort_id}/pairs/{a}/{b}{suffix}"

    def mark(a: str, b: str) -> str | None:
        return mark_of(a, b, proposed=board.proposed, agreed=board.agreed, forbidden=board.forbidden)

    return [
        {
            "grid": grid,
            "svg": heatmap(
                grid,
                names=board.names,
                proposed=board.proposed,
                agreed=board.agreed,
                forbidden=board.forbidden,
                href=href,
                id=f"heatmap-{n}",
            ),
            "href": href,
            "mark": mark,
        }
        for n, grid in enumerate(board.grids, start=1)
    ]


@router.get("/{cohort_id}")
def board(request: Request, cohort_id: CohortIdPath, db: SessionDep, viewer: ViewerDep, live: LiveDep) -> Response:
    cohort = cohorts.get_cohort(session=db, cohort_id=cohort_id)
    sides = cohort.sides()
    names = {m: profile_name(live, m) for members in sides.values() for m in members}
    raw, body, problems = pairing_options(request)
    board, error = None, None
    if viewer.is_manager:
        board, error, more = _board(db, live, cohort, body)
        problems += more
    proposal = board.pairing if board else None
    regrets = {r.city: r for r in proposal.regrets} if proposal else {}
    query = request.url.query
    return render(
        request,
        "cohort.html",
        viewer,
        nav="cohorts",
        cohort=cohort,
        sides=sides,
        names=names,
        options=raw,
        proposal=proposal,
        board=board,
        pictures=_pictures(board, cohort_id, query) if board else [],
        regrets=regrets,
        agreed=[sorted(p) for p in board.agreed] if board else [],
        pair_heads=WORDINGS[(Kind.CITY, Kind.CITY)].heads,
        error=error,
        problems=problems,
        query=query,
        here=request.url.path + (f"?{query}" if query else ""),
        status=422 if (error or problems) else 200,
    )


@router.get("/{cohort_id}/pairs/{a}/{b}")
def pair(
    request: Request,
    cohort_id: CohortIdPath,
    a: ProfileIdPath,
    b: ProfileIdPath,
    db: SessionDep,
    viewer: ViewerDep,
    live: LiveDep,
) -> Response:
    """One pair of the board, proposed or not: the score its heat map shows and why."""
    viewer.require_manager()
    cohort = cohorts.get_cohort(session=db, cohort_id=cohort_id)
    body = valid_pairing_options(request)
    board = cohort_board(session=db, live=live, cohort=cohort, options=body)
    query = request.url.query
    return render(
        request,
        "cohort_pair.html",
        viewer,
        nav="cohorts",
        cohort=cohort,
        pair=pair_reasons(live=live, board=board, a=a, b=b),
        mark=mark_of(a, b, proposed=board.proposed, agreed=board.agreed, forbidden=board.forbidden),
        heads=WORDINGS[(Kind.CITY, Kind.CITY)].heads(board.names[a], board.names[b]),
        back=f"/app/cohorts/{cohort_id}" + (f"?{query}" if query else "") + "#heatmap-h",
    )


@router.post("/{cohort_id}/accept")
async def accept(request: Request, cohort_id: CohortIdPath, db: SessionDep, viewer: FormViewerDep) -> Response:
    """Store the shown pairs as partnerships of the cohort's programme (as POST /cohorts/{id}/pairing/accept)."""
    viewer.require_manager()
    cohort = cohorts.get_cohort(session=db, cohort_id=cohort_id)
    form = await request.form()
    pairs = [tuple(_pair(v)) for v in form.getlist("pair") if isinstance(v, str)]
    back = local_path(form.get("back") if isinstance(form.get("back"), str) else None, f"/app/cohorts/{cohort_id}")
    if not pairs:
        viewer.flash("There was no pair to accept.", kind="error")
        return redirect(back)
    try:
        done = accept_pairs(
            session=db,
            cohort=cohort,
            pairs=pairs,
            accepted_by=viewer.principal.label,
            allow_second_partner=form.get("allow_second_partner") == "yes",
        )
    except Conflict as exc:
        viewer.flash(
            "Nothing was accepted: "
            + "; ".join(p.detail for p in exc.errors)
            + ". Tick “Give these cities a second partner in the programme” to accept it anyway.",
            kind="error",
        )
        return redirect(back)
    viewer.flash(
        f"Accepted {done.accepted} pairs as partnerships of “{cohort.programme}” ({done.created} new). "
        "Accepted pairs stay locked when the cohort is paired again."
    )
    return redirect(back)


@router.get("/{cohort_id}/pairing.csv")
def pairing_csv(
    request: Request, cohort_id: CohortIdPath, db: SessionDep, viewer: ViewerDep, live: LiveDep
) -> Response:
    """The proposed pairing with the board's options, for spreadsheets: a, b, score, locked."""
    viewer.require_manager()
    cohort = cohorts.get_cohort(session=db, cohort_id=cohort_id)
    body = valid_pairing_options(request)
    proposal = pairing_view(session=db, live=live, cohort=cohort, options=body)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["a", "b", "score", "locked"])
    for p in proposal.pairs:
        writer.writerow([p.a, p.b, f"{p.score:.4f}", "true" if p.locked else "false"])
    return csv_response(out.getvalue(), f"pairing-{cohort_id}.csv")


@dataclass
class CohortForm:
    """The cohort form as typed: its id (new cohorts only), name and each side's chosen members, and its problems.

    Sides are picked from the stored cities: one fieldset per side the cohort has and per bloc of cities it
    has not, each listing that bloc's cities as checkboxes (so it works without JavaScript); a side with no
    member ticked is left out.
    """

    cohort_id: str
    name: str
    sides: dict[str, list[str]]
    programme: str = ""  # blank: the cohort keeps its programme, or takes its members' partnerships' one
    problems: list[FieldProblem] = field(default_factory=list)

    @classmethod
    def from_submission(cls, form: Any) -> "CohortForm":
        sides: dict[str, list[str]] = {}
        for i, side in enumerate(form.getlist("side")):
            members = [m.strip() for m in form.getlist(f"members_{i}") if isinstance(m, str) and m.strip()]
            if isinstance(side, str) and side.strip() and members:
                sides.setdefault(side.strip(), []).extend(members)
        text = {name: form.get(name) for name in ("id", "name", "programme")}
        return cls(
            cohort_id=(text["id"] if isinstance(text["id"], str) else "").strip(),
            name=(text["name"] if isinstance(text["name"], str) else "").strip(),
            sides=sides,
            programme=(text["programme"] if isinstance(text["programme"], str) else "").strip(),
        )

    def body(self, *, new: bool) -> CohortBody | None:
        """The cohort the form describes, or None with `problems` filled in; a new one's id is checked too."""
        fields = {"name": self.name, "programme": self.programme or None, "sides": self.sides}
        try:
            if new:
                CohortIn.model_validate(fields | {"id": self.cohort_id or None})
            return CohortBody.model_validate(fields)
        except ValidationError as exc:
            self.problems = validation_problems(exc.errors())
            return None


def _where(pointer: str) -> str:
    """A cohort problem's pointer as a person reads it: `/sides/EU/2` → "side EU"."""
    parts = [p for p in pointer.strip("/").split("/") if p]
    if parts[:1] == ["sides"] and len(parts) > 1:
        return f"side {parts[1]}"
    return {"name": "name", "id": "id", "programme": "programme"}.get(parts[0], "the cohort") if parts else "the cohort"


def _form_page(
    request: Request,
    db: Session,
    viewer: Viewer,
    live: LiveIndex,
    form: CohortForm,
    *,
    cohort: Cohort | None,
    status: int = 200,
) -> Response:
    """The form of a new cohort (`cohort` None) or of a stored one, with the sides to pick members from."""
    by_bloc = cohorts.cities_by_bloc(session=db)
    stored = cohort.sides() if cohort else {}
    slots = []
    for side in [*stored, *(bloc for bloc in by_bloc if bloc not in stored)]:
        offered = list(by_bloc.get(side, []))
        listed = {profile_id for profile_id, _ in offered}
        # members on a side that is not their bloc stay offered there, so editing never drops them unseen
        offered += [
            (m, profile_name(live, m)) for m in [*stored.get(side, []), *form.sides.get(side, [])] if m not in listed
        ]
        slots.append({"side": side, "cities": list(dict.fromkeys(offered)), "chosen": set(form.sides.get(side, []))})
    return render(
        request,
        "cohort_form.html",
        viewer,
        nav="cohorts",
        form=form,
        cohort=cohort,
        slots=slots,
        problems=[{"where": _where(p.pointer), "detail": p.detail} for p in form.problems],
        status=status,
    )


@creation.get("/cohort")
def new_page(request: Request, db: SessionDep, viewer: ViewerDep, live: LiveDep) -> Response:
    viewer.require_manager()
    return _form_page(request, db, viewer, live, CohortForm(cohort_id="", name="", sides={}), cohort=None)


@creation.post("/cohort")
async def create(request: Request, db: SessionDep, viewer: FormViewerDep, live: LiveDep) -> Response:
    """Create the cohort (its id given, or made from its name); every problem is listed and nothing is stored."""
    viewer.require_manager()
    form = CohortForm.from_submission(await request.form())
    body = form.body(new=True)
    if body is None:
        return _form_page(request, db, viewer, live, form, cohort=None, status=422)
    try:
        cohort = cohorts.create_cohort(session=db, cohort_id=form.cohort_id or None, body=body)
    except (InvalidInput, AlreadyExists) as exc:
        db.rollback()
        form.problems = [FieldProblem("/id", exc.detail)] if isinstance(exc, AlreadyExists) else exc.errors
        return _form_page(request, db, viewer, live, form, cohort=None, status=exc.status)
    viewer.flash(f"Created cohort “{cohort.name}” with {len(cohort.sides())} sides.")
    return redirect(f"/app/cohorts/{cohort.id}")


@router.get("/{cohort_id}/edit")
def edit_page(request: Request, cohort_id: CohortIdPath, db: SessionDep, viewer: ViewerDep, live: LiveDep) -> Response:
    viewer.require_manager()
    cohort = cohorts.get_cohort(session=db, cohort_id=cohort_id)
    form = CohortForm(cohort_id=cohort.id, name=cohort.name, sides=cohort.sides(), programme=cohort.programme or "")
    return _form_page(request, db, viewer, live, form, cohort=cohort)


@router.post("/{cohort_id}/edit")
async def edit(
    request: Request, cohort_id: CohortIdPath, db: SessionDep, viewer: FormViewerDep, live: LiveDep
) -> Response:
    """Replace the cohort's name and sides (as PUT /cohorts/{id}); its partnerships stay."""
    viewer.require_manager()
    cohort = cohorts.get_cohort(session=db, cohort_id=cohort_id)
    form = CohortForm.from_submission(await request.form())
    form.cohort_id = cohort.id
    body = form.body(new=False)
    if body is None:
        return _form_page(request, db, viewer, live, form, cohort=cohort, status=422)
    try:
        cohorts.save_cohort(session=db, cohort_id=cohort_id, body=body)
    except InvalidInput as exc:
        db.rollback()
        form.problems = exc.errors
        return _form_page(request, db, viewer, live, form, cohort=cohort, status=exc.status)
    viewer.flash(f"Saved cohort “{body.name}”: {', '.join(f'{side} {len(m)}' for side, m in body.sides.items())}.")
    return redirect(f"/app/cohorts/{cohort_id}")


@router.post("/{cohort_id}/delete")
def delete(cohort_id: CohortIdPath, db: SessionDep, viewer: FormViewerDep) -> Response:
    """Delete the cohort (as DELETE /cohorts/{id}); the partnerships accepted for it stay, as partnerships."""
    viewer.require_manager()
    name = cohorts.get_cohort(session=db, cohort_id=cohort_id).name
    cohorts.delete_cohort(session=db, cohort_id=cohort_id)
    viewer.flash(f"Deleted cohort “{name}”; its partnerships stay.")
    return redirect("/app/cohorts")
