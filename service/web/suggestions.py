"""A profile's suggestions with their reasons; accepting (proposing or confirming), rejecting and undoing either."""

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from matching.scoring import Kind
from service.api.deps import ProfileIdPath, SessionDep
from service.domain import decisions, exclusions, partnerships, profiles, shortlists
from service.domain.suggestions import suggestions_for
from service.errors import FieldProblem, validation_problems
from service.live.index import SuggestionRequest
from service.schemas import (
    ID_PATTERN,
    MAX_NOTE,
    ORG_TYPES,
    Bloc,
    CountryFilter,
    OrgType,
    RejectBody,
    Scope,
    ScoreParts,
    SuggestionDecisions,
)
from service.web.deps import FormViewerDep, LiveDep, PageRoute, ViewerDep, local_path, profile_name, redirect, render

router = APIRouter(prefix="/app/profiles/{profile_id}", route_class=PageRoute, include_in_schema=False)

PART_HELP = {name: f.description for name, f in ScoreParts.model_fields.items()}
SIZES = (10, 25, 50)


@dataclass(frozen=True)
class Wording:
    """What a suggestions page says for one direction (who asks, for which kind): the heads of
    the matched phrase groups, who is suggested, and the score parts in that direction's words.

    `{asking}` and `{other}` stand for the asking profile's and the suggestion's names. A match
    group quotes needs of one side (an interest, or what an organisation offers when it asks
    for cities) and the other side's phrase that serves each best: `forward` the asking
    profile's needs, `backward` the suggestion's, quoted whenever the direction scores or
    explains them (city pairings, and collaborators both ways).
    """

    forward: tuple[str, str]
    backward: tuple[str, str] | None
    bloc_placeholder: str
    who: str
    parts: dict[str, str]

    def heads(self, asking: str, other: str) -> dict[str, tuple[str, str]]:
        """The match groups' heads for one suggestion, by match direction."""
        groups = {"forward": self.forward} | ({"backward": self.backward} if self.backward else {})
        return {d: tuple(h.format(asking=asking, other=other) for h in pair) for d, pair in groups.items()}

    def glossary(self, asking: str) -> dict[str, str]:
        """The score parts' meanings, this direction's own where the API's words are a city pairing's."""
        return PART_HELP | {name: text.format(asking=asking) for name, text in self.parts.items()}


_COLLABORATOR_PARTS = {
    "dense": "semantic score: the forward coverage (collaborators are scored one way)",
    "backward": "not scored for collaborators (–)",
}
WORDINGS = {
    (Kind.CITY, Kind.CITY): Wording(
        forward=("What {asking} asks for", "what {other} brings"),
        backward=("What {other} asks for", "what {asking} brings"),
        bloc_placeholder="other blocs",
        who="Partner cities come from other blocs unless you name one.",
        parts={
            "dense": "semantic score: the forward and backward coverages fused",
            "forward": "how well the candidate city covers {asking}'s interests",
            "backward": "how well {asking} covers the candidate city's interests",
        },
    ),
    (Kind.CITY, Kind.ORGANISATION): Wording(
        forward=("What {asking} asks for", "what {other} offers"),
        backward=("What {other} offers", "what {asking} asks for"),
        bloc_placeholder="any",
        who="An organisation ranks high when what it offers covers what {asking} asks for.",
        parts=_COLLABORATOR_PARTS | {"forward": "how well the organisation's offers cover {asking}'s interests"},
    ),
    (Kind.ORGANISATION, Kind.CITY): Wording(
        forward=("What {asking} offers", "what {other} asks for"),
        backward=("What {other} asks for", "what {asking} offers"),
        bloc_placeholder="any",
        who="Cities of every bloc are suggested, unless you name one; "
        "a city ranks high when it asks for what {asking} offers.",
        parts=_COLLABORATOR_PARTS | {"forward": "how well the city's interests take up what {asking} offers"},
    ),
    (Kind.ORGANISATION, Kind.ORGANISATION): Wording(
        forward=("What {asking} asks for", "what {other} offers"),
        backward=None,
        bloc_placeholder="any",
        who="An organisation ranks high when what it offers covers what {asking} asks for.",
        parts=_COLLABORATOR_PARTS | {"forward": "how well the organisation's offers cover {asking}'s interests"},
    ),
}


class SuggestionFilters(BaseModel):
    """The filter form: the API's query parameters, with the same types and limits."""

    model_config = ConfigDict(extra="ignore")

    target: Kind = Kind.CITY
    bloc: Bloc | None = None
    country: CountryFilter | None = None
    org_type: OrgType | None = None
    diversity: Annotated[float, Field(ge=0, le=1)] = 0.0
    include_partners: bool = False
    scope: Scope = "any"
    k: Annotated[int, Field(ge=1, le=100)] = 10

    @classmethod
    def read(cls, params: dict[str, str]) -> tuple["SuggestionFilters", dict[str, str], list[FieldProblem]]:
        raw = {k: v.strip() for k, v in params.items() if isinstance(v, str) and v.strip()}
        if "country" in raw:  # shown back in the form as it is read
            raw["country"] = raw["country"].upper()
        try:
            return cls.model_validate(raw), raw, []
        except ValidationError as exc:
            return (
                cls(target=raw.get("target") if raw.get("target") in ("city", "organisation") else Kind.CITY),
                raw,
                validation_problems(exc.errors()),
            )

    def request(self) -> SuggestionRequest:
        return SuggestionRequest(
            target=self.target,
            k=self.k,
            bloc=self.bloc,
            country=self.country,
            org_type=self.org_type,
            diversity=self.diversity,
            include_partners=self.include_partners,
            scope=self.scope,
        )


@router.get("/suggestions")
def suggestions_page(
    request: Request, profile_id: ProfileIdPath, db: SessionDep, viewer: ViewerDep, live: LiveDep
) -> Response:
    viewer.principal.require_reader_of(profile_id)
    profile = profiles.profile_out(profiles.get_profile(session=db, profile_id=profile_id))
    filters, raw, problems = SuggestionFilters.read(dict(request.query_params))
    found = (
        None
        if problems
        else suggestions_for(
            session=db, live=live, principal=viewer.principal, profile_id=profile_id, ask=filters.request()
        )
    )
    partners = (
        partnerships.partner_ids(session=db, principal=viewer.principal, profile_id=profile_id)
        if filters.include_partners
        else set()
    )
    shortlist = {
        e.other: e for e in shortlists.list_shortlist(session=db, principal=viewer.principal, profile_id=profile_id)
    }
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    wording = WORDINGS[(Kind(profile.kind), filters.target)]
    return render(
        request,
        "suggestions.html",
        viewer,
        nav="profiles",
        profile=profile,
        filters=filters,
        raw=raw,
        problems={p.pointer.strip("/"): p.detail for p in problems},
        found=found,
        partners=partners,
        shortlist=shortlist,
        max_note=MAX_NOTE,
        wording=wording,
        who=wording.who.format(asking=profile.name),
        part_help=wording.glossary(profile.name),
        org_types=ORG_TYPES,
        sizes=SIZES,
        here=here,
        target=filters.target.value,
        status=422 if problems else 200,
    )


Back = Annotated[str, Form(max_length=2000)]


@router.post("/suggestions/{other}/accept")
def accept(
    profile_id: ProfileIdPath,
    other: ProfileIdPath,
    db: SessionDep,
    viewer: FormViewerDep,
    live: LiveDep,
    back: Back = "",
) -> Response:
    """Accept a suggestion, or confirm a proposal (as POST /profiles/{id}/suggestions/{other}/accept)."""
    done = partnerships.accept_suggestion(session=db, principal=viewer.principal, profile_id=profile_id, other=other)
    back = local_path(back, f"/app/profiles/{profile_id}/suggestions")
    mine, theirs = profile_name(live, profile_id), profile_name(live, other)
    viewer.flash(
        f"Proposed a partnership of {mine} with {theirs}: it becomes one when {theirs} accepts it "
        "or a programme manager confirms it."
        if done.state == "proposed"
        else f"{theirs} is now a partner of {mine}; it will not be suggested again.",
        undo_url=f"/app/profiles/{profile_id}/partnerships/{other}/remove",
        back=back,
    )
    return redirect(back)


@router.post("/suggestions/{other}/reject")
def reject(
    profile_id: ProfileIdPath,
    other: ProfileIdPath,
    db: SessionDep,
    viewer: FormViewerDep,
    live: LiveDep,
    reason: Annotated[str, Form(max_length=2000)] = "",
    back: Back = "",
) -> Response:
    back = local_path(back, f"/app/profiles/{profile_id}/suggestions")
    try:
        body = RejectBody.model_validate({"reason": reason.strip() or None})
    except ValidationError as exc:
        problem = validation_problems(exc.errors())[0]
        viewer.flash(f"The reason is not valid ({problem.detail}); nothing was changed.", kind="error")
        return redirect(back)
    exclusions.exclude(session=db, principal=viewer.principal, profile_id=profile_id, other=other, reason=body.reason)
    why = f" (reason: {body.reason})" if body.reason else ""
    viewer.flash(
        f"{profile_name(live, other)} will not be suggested to {profile_name(live, profile_id)} again{why}.",
        undo_url=f"/app/profiles/{profile_id}/exclusions/{other}/remove",
        back=back,
    )
    return redirect(back)


Selected = Annotated[list[Annotated[str, StringConstraints(pattern=ID_PATTERN)]], Form()]


@router.post("/suggestions/decide")
def decide_selected(
    profile_id: ProfileIdPath,
    db: SessionDep,
    viewer: FormViewerDep,
    live: LiveDep,
    action: Annotated[Literal["accept", "reject"], Form()],
    selected: Selected = [],  # noqa: B006 (FastAPI copies defaults)
    reason: Annotated[str, Form(max_length=2000)] = "",
    back: Back = "",
) -> Response:
    """Accept or reject the checked suggestions in one submit (as POST /profiles/{id}/suggestions/decisions):
    one message per suggestion says what happened to it, each with its own undo."""
    back = local_path(back, f"/app/profiles/{profile_id}/suggestions")
    if not selected:
        viewer.flash("Select at least one suggestion first; nothing was changed.", kind="error")
        return redirect(back)
    try:
        body = SuggestionDecisions.model_validate(
            {"action": action, "others": selected, "reason": (reason.strip() or None) if action == "reject" else None}
        )
    except ValidationError as exc:
        problem = validation_problems(exc.errors())[0]
        viewer.flash(f"The selection is not valid ({problem.detail}); nothing was changed.", kind="error")
        return redirect(back)
    report = decisions.decide_each(
        session=db,
        principal=viewer.principal,
        profile_id=profile_id,
        action=body.action,
        others=body.others,
        reason=body.reason,
    )
    mine = profile_name(live, profile_id)
    done = sum(item.outcome != "refused" for item in report.items)
    verb = "Accepted" if body.action == "accept" else "Rejected"
    viewer.flash(f"{verb} {done} of {len(report.items)} selected suggestions for {mine}.", kind="info")
    why = f" (reason: {body.reason})" if body.reason else ""
    for item in report.items:
        theirs = profile_name(live, item.other)
        if item.outcome == "refused":
            viewer.flash(f"{theirs}: nothing was changed ({item.status}): {item.detail}", kind="error")
        elif item.outcome == "excluded":
            viewer.flash(
                f"{theirs} will not be suggested to {mine} again{why}.",
                undo_url=f"/app/profiles/{profile_id}/exclusions/{item.other}/remove",
                back=back,
            )
        else:
            viewer.flash(
                f"Proposed a partnership of {mine} with {theirs}: it becomes one when {theirs} accepts it "
                "or a programme manager confirms it."
                if item.outcome == "proposed"
                else f"{theirs} is now a partner of {mine}.",
                undo_url=f"/app/profiles/{profile_id}/partnerships/{item.other}/remove",
                back=back,
            )
    return redirect(back)


@router.post("/partnerships/{other}/remove")
def remove_partnership(
    profile_id: ProfileIdPath,
    other: ProfileIdPath,
    db: SessionDep,
    viewer: FormViewerDep,
    live: LiveDep,
    back: Back = "",
) -> Response:
    """Withdraw or decline a proposal, or end a partnership (as DELETE /profiles/{id}/partnerships/{other})."""
    done = partnerships.delete_partnership(session=db, principal=viewer.principal, profile_id=profile_id, other=other)
    mine, theirs = profile_name(live, profile_id), profile_name(live, other)
    viewer.flash(
        {
            "withdrawn": f"The proposal of {mine} to {theirs} was withdrawn.",
            "declined": f"The proposal of {theirs} to {mine} was declined.",
            "ended": f"The partnership of {mine} with {theirs} was removed.",
        }[done],
        kind="info",
    )
    return redirect(local_path(back, f"/app/profiles/{profile_id}"))


@router.post("/exclusions/{other}/remove")
def remove_exclusion(
    profile_id: ProfileIdPath,
    other: ProfileIdPath,
    db: SessionDep,
    viewer: FormViewerDep,
    live: LiveDep,
    back: Back = "",
) -> Response:
    """Undo an exclusion or a rejection (as DELETE /profiles/{id}/exclusions/{other})."""
    exclusions.delete_exclusion(session=db, principal=viewer.principal, profile_id=profile_id, other=other)
    viewer.flash(
        f"{profile_name(live, other)} may be suggested to {profile_name(live, profile_id)} again.", kind="info"
    )
    return redirect(local_path(back, f"/app/profiles/{profile_id}"))
