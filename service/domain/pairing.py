"""Cohort pairing in the service: the live recommender's scores for a stored cohort, constraints from the database."""

from dataclasses import dataclass, replace

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from matching.explain import explain, need_best_cosines
from matching.pairing import CohortScores, InvalidPairing, Pairing, PairingOptions, optimal_pairing
from matching.recommend import Recommender
from matching.scoring import Kind, direction_roles, needs_mask
from service.db.models import Cohort, Exclusion, Partnership
from service.db.store import partner_pairs, programme_named, programme_partners, upsert_partnership
from service.domain.suggestions import theme_list
from service.errors import Conflict, FieldProblem, InvalidInput, NotFound
from service.live.index import LiveIndex
from service.schemas import (
    AcceptOut,
    CandidateOut,
    PairingOut,
    PairingRequest,
    PairOut,
    PartnershipIn,
    PhraseMatchOut,
    RegretOut,
    SecondPartnerOut,
    UnpairedOut,
)

__all__ = [
    "cohort_scores",
    "stored_constraints",
    "solve",
    "Proposal",
    "ScoreGrid",
    "UnservedInterest",
    "CohortBoard",
    "cohort_board",
    "pairing_view",
    "pair_reasons",
    "second_partners",
    "accept_pairs",
]


@dataclass(frozen=True)
class Proposal:
    cohort: Cohort
    pairing: Pairing
    explanations: dict[tuple[str, str], object]
    scores: CohortScores


def cohort_scores(recommender: Recommender, sides: dict[str, list[str]]) -> CohortScores:
    names = list(sides)
    blocks = {}
    for i, sa in enumerate(names):
        for sb in names[i + 1 :]:
            blocks[(sa, sb)] = recommender.pair_scores(list(sides[sa]), list(sides[sb]))
    return CohortScores(sides=sides, blocks=blocks, logistic=recommender.learns((Kind.CITY, Kind.CITY)))


Constraints = tuple[list[tuple[str, str]], list[tuple[str, str]]]  # (locked, forbidden) pairs


def stored_constraints(session: Session, cohort: Cohort, *, use_partnerships: bool = True) -> Constraints:
    """The cohort's own partnerships (its pairing's, or its programme's crossing its sides) are kept
    (locked); exclusions and other partnerships among its members are forbidden, and an excluded
    pair is never kept, even if it is the cohort's. Without `use_partnerships`, exclusions only are
    forbidden. Each list is sorted."""
    members = {m.profile_id for m in cohort.members}
    forbidden = [
        (a, b)
        for a, b in session.execute(
            select(Exclusion.a, Exclusion.b).where(Exclusion.a.in_(members), Exclusion.b.in_(members))
        )
    ]
    locked = []
    if use_partnerships:
        for p in session.scalars(select(Partnership).where(Partnership.a.in_(members), Partnership.b.in_(members))):
            (locked if p.cohort_id == cohort.id else forbidden).append((p.a, p.b))
    excluded = {frozenset(p) for p in forbidden}
    locked = [p for p in locked if frozenset(p) not in excluded]
    return sorted(locked), sorted(forbidden)


def solve(
    recommender: Recommender,
    cohort: Cohort,
    stored: Constraints,
    *,
    capacity: dict[str, int],
    lock: list[tuple[str, str]],
    forbid: list[tuple[str, str]],
    min_score: float,
) -> Proposal:
    """The optimal pairing of a cohort under the stored constraints in hand, every pair explained as a
    suggestion is: scores, solves and explains, reading no database. A pair the options forbid is
    not kept even if it is one of the cohort's agreed pairs: a manager may look past it."""
    sides = cohort.sides()
    members = {m for ms in sides.values() for m in ms}
    missing = sorted(m for m in members if m not in recommender.index)
    if missing:
        raise InvalidInput(f"cohort members not in the index: {', '.join(missing)}")
    for name, pairs in (("lock", lock), ("forbid", forbid)):
        for i, (a, b) in enumerate(pairs):
            for j, city in enumerate((a, b)):
                if city not in members:
                    raise InvalidInput(
                        f"{city!r} is not in cohort {cohort.id!r}", [FieldProblem(f"/{name}/{i}/{j}", "not a member")]
                    )
    for city in capacity:
        if city not in members:
            raise InvalidInput(
                f"{city!r} is not in cohort {cohort.id!r}", [FieldProblem(f"/capacity/{city}", "not a member")]
            )
    stored_locked, stored_forbidden = stored
    forbidden_now = {frozenset(p) for p in forbid}
    stored_locked = [p for p in stored_locked if frozenset(p) not in forbidden_now]
    options = PairingOptions(
        capacity=capacity,
        locked=_unique(stored_locked + lock),
        forbidden=stored_forbidden + forbid,
        min_score=min_score,
    )
    scores = cohort_scores(recommender, sides)
    try:
        pairing = optimal_pairing(scores, options)
    except InvalidPairing as exc:
        raise InvalidInput(str(exc)) from None
    roles = direction_roles(Kind.CITY, Kind.CITY)
    explanations = {
        (p.a, p.b): explain(
            recommender.index.vectors_of(p.a),
            recommender.index.vectors_of(p.b),
            roles,
            recommender.params,
            recommender.tagger,
        )
        for p in pairing.pairs
    }
    return Proposal(cohort=cohort, pairing=pairing, explanations=explanations, scores=scores)


def _unique(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen, out = set(), []
    for a, b in pairs:
        if frozenset((a, b)) not in seen:
            seen.add(frozenset((a, b)))
            out.append((a, b))
    return out


@dataclass(frozen=True)
class ScoreGrid:
    """The scores of one side's members (rows) with another side's (columns), as the pairing weighs them."""

    rows_side: str
    cols_side: str
    rows: tuple[str, ...]
    cols: tuple[str, ...]
    scores: tuple[tuple[float, ...], ...]  # scores[i][j]: rows[i] with cols[j]


@dataclass(frozen=True)
class UnservedInterest:
    """An interest of a member that no member of the other sides serves closely: its best match
    (the best weighted cosine with any of their phrases, as a forward match quotes it) is below
    the similarity under which the engine calls a phrase pair "no close match"."""

    city: str
    interest: str
    best: float
    best_by: str | None  # the member whose phrase comes closest; None when the other sides have no phrase


@dataclass(frozen=True)
class CohortBoard:
    """Everything the cohort board shows of one proposal: the proposal, every pair's score (one
    grid per pair of sides), the pairs agreed for the cohort and those forbidden, and the
    interests nobody on the other sides serves well."""

    pairing: PairingOut
    names: dict[str, str]
    grids: list[ScoreGrid]
    agreed: frozenset[frozenset[str]]
    forbidden: frozenset[frozenset[str]]
    unserved: list[UnservedInterest]
    close_at: float  # the "no close match" similarity the unserved interests are below

    @property
    def proposed(self) -> frozenset[frozenset[str]]:
        return frozenset(frozenset((p.a, p.b)) for p in self.pairing.pairs)

    def score(self, a: str, b: str) -> float | None:
        """The grid's score of `a` with `b`, either way round; None unless they are on different sides."""
        for grid in self.grids:
            if a in grid.rows and b in grid.cols:
                return grid.scores[grid.rows.index(a)][grid.cols.index(b)]
            if b in grid.rows and a in grid.cols:
                return grid.scores[grid.rows.index(b)][grid.cols.index(a)]
        return None


def cohort_board(*, session: Session, live: LiveIndex, cohort: Cohort, options: PairingRequest) -> CohortBoard:
    """The proposal with the score grids it was solved on, the agreed and forbidden pairs and the
    cohort's unserved interests: what the workspace's board shows.

    Scored and solved on a snapshot of the members: the live index is locked only while their rows
    are copied, so no suggestion request or profile write waits for the solve. The answer is kept
    (`live.results`) by everything it is computed from: the cohort's sides, the stored constraints
    among its members (exclusions, partnerships), the options and the index's state of the members
    (`LiveIndex.scoring_state`). All are read afresh on every call, so a change made by any path
    (the API, the pages, a bundle import) makes the next call solve again, and nothing else does.
    """
    sides = cohort.sides()
    stored = stored_constraints(session, cohort, use_partnerships=options.partnerships == "auto")
    members = [m for ms in sides.values() for m in ms]
    key = (
        "pairing",
        cohort.id,
        tuple((side, tuple(ms)) for side, ms in sides.items()),
        tuple(map(tuple, stored)),
        options.model_dump_json(),
        live.scoring_state(members),
    )
    cached = live.results.get(key)
    if cached is not None:
        return _with_second_partners(session, cohort, cached)
    snapshot = live.snapshot(members)
    proposal = solve(
        snapshot.recommender,
        cohort,
        stored,
        capacity=dict(options.capacity),
        lock=[tuple(p) for p in options.lock],
        forbid=[tuple(p) for p in options.forbid],
        min_score=options.min_score,
    )
    names = {m: snapshot.texts[m].name for m in members}
    pairs = []
    for p in proposal.pairing.pairs:
        why = proposal.explanations[(p.a, p.b)]
        pairs.append(
            PairOut(
                a=p.a,
                b=p.b,
                a_name=names[p.a],
                b_name=names[p.b],
                score=p.score,
                locked=p.locked,
                matches=[PhraseMatchOut(**m.__dict__) for m in why.matches],
                shared_themes=theme_list(live, why.shared_themes),
            )
        )
    unpaired = [
        UnpairedOut(
            id=c,
            reason=proposal.pairing.left_out[c],
            best_options=[CandidateOut(id=o, score=s) for o, s in proposal.pairing.options.get(c, [])],
        )
        for c in proposal.pairing.unpaired
    ]
    regrets = [RegretOut(**r.__dict__) for r in proposal.pairing.regrets]
    out = PairingOut(
        cohort=cohort.id,
        programme=cohort.programme,
        total=proposal.pairing.total,
        pairs=pairs,
        unpaired=unpaired,
        regrets=regrets,
        second_partners=[],
    )
    ranker = snapshot.recommender.ranker
    close_at = ranker.match_threshold if ranker is not None else 0.0
    stored_locked, stored_forbidden = stored
    board = CohortBoard(
        pairing=out,
        names=names,
        grids=[_grid(proposal.scores, sa, sb) for sa, sb in proposal.scores.side_pairs],
        agreed=frozenset(frozenset(p) for p in stored_locked),
        forbidden=frozenset(frozenset(p) for p in stored_forbidden + [tuple(p) for p in options.forbid]),
        unserved=_unserved(snapshot.recommender, sides, close_at),
        close_at=close_at,
    )
    live.results.put(key, board)
    return _with_second_partners(session, cohort, board)


def _with_second_partners(session: Session, cohort: Cohort, board: CohortBoard) -> CohortBoard:
    """The board with the proposed pairs that would give a city a second partner city in the
    programme, read afresh: partnerships outside the cohort count too and are not in its key."""
    pairs = [(p.a, p.b) for p in board.pairing.pairs if frozenset((p.a, p.b)) not in board.agreed]
    found = second_partners(session=session, cohort=cohort, pairs=pairs)
    return replace(board, pairing=board.pairing.model_copy(update={"second_partners": found}))


def second_partners(*, session: Session, cohort: Cohort, pairs: list[tuple[str, str]]) -> list[SecondPartnerOut]:
    """Each city the pairs would give a partner city in the cohort's programme beside one it has
    (a stored partnership, or another of the pairs): a programme pairs a city once."""
    if cohort.programme_id is None or not pairs:
        return []
    cities = {c for pair in pairs for c in pair}
    held = programme_partners(session, cohort.programme_id, cities)
    out = []
    for a, b in pairs:
        for city, partner in ((a, b), (b, a)):
            already = sorted(held[city] - {partner})
            if already:
                out.append(SecondPartnerOut(city=city, partner=partner, already=already))
            held[city].add(partner)
    return out


def pairing_view(*, session: Session, live: LiveIndex, cohort: Cohort, options: PairingRequest) -> PairingOut:
    """The proposal as the API and the board's CSV show it (`cohort_board`'s, kept the same way)."""
    return cohort_board(session=session, live=live, cohort=cohort, options=options).pairing


def pair_reasons(*, live: LiveIndex, board: CohortBoard, a: str, b: str) -> PairOut:
    """One pair of a board's members from different sides, proposed or not, with the score its grid
    shows and the reasons the board gives a proposed pair (the phrase pairs both ways, the themes)."""
    score = board.score(a, b)
    if score is None:
        raise NotFound(f"{a!r} and {b!r} are not members of different sides of cohort {board.pairing.cohort!r}")
    proposed = {frozenset((p.a, p.b)): p for p in board.pairing.pairs}.get(frozenset((a, b)))
    recommender = live.snapshot([a, b]).recommender
    why = explain(
        recommender.index.vectors_of(a),
        recommender.index.vectors_of(b),
        direction_roles(Kind.CITY, Kind.CITY),
        recommender.params,
        recommender.tagger,
    )
    return PairOut(
        a=a,
        b=b,
        a_name=board.names[a],
        b_name=board.names[b],
        score=score,
        locked=proposed is not None and proposed.locked,
        matches=[PhraseMatchOut(**m.__dict__) for m in why.matches],
        shared_themes=theme_list(live, why.shared_themes),
    )


def _grid(scores: CohortScores, sa: str, sb: str) -> ScoreGrid:
    block = scores.block(sa, sb)
    return ScoreGrid(
        rows_side=sa,
        cols_side=sb,
        rows=tuple(scores.sides[sa]),
        cols=tuple(scores.sides[sb]),
        scores=tuple(tuple(round(float(s), 6) for s in row) for row in block),
    )


def _unserved(recommender: Recommender, sides: dict[str, list[str]], close_at: float) -> list[UnservedInterest]:
    """Each member's interests whose best match among the other sides' phrases is below `close_at`,
    member by member in side order, the least served first."""
    roles = direction_roles(Kind.CITY, Kind.CITY)
    out = []
    for side, members in sides.items():
        others = [m for s, ms in sides.items() if s != side for m in ms]
        vectors = [recommender.index.vectors_of(m) for m in others]
        for city in members:
            own = recommender.index.vectors_of(city)
            needs = [own.texts[i] for i in np.flatnonzero(needs_mask(own.roles, roles.query_needs))]
            served = need_best_cosines((Kind.CITY, Kind.CITY), own, vectors, recommender.params)
            best = served.max(axis=1) if served.shape[1] else np.zeros(len(needs))
            by = served.argmax(axis=1) if served.shape[1] else None
            found = [
                UnservedInterest(
                    city=city,
                    interest=need,
                    best=round(float(best[i]), 4),
                    best_by=others[int(by[i])] if by is not None else None,
                )
                for i, need in enumerate(needs)
                if best[i] < close_at
            ]
            out += sorted(found, key=lambda u: (u.best, u.interest))
    return out


def accept_pairs(
    *,
    session: Session,
    cohort: Cohort,
    pairs: list[tuple[str, str]],
    accepted_by: str,
    allow_second_partner: bool = False,
) -> AcceptOut:
    """Store chosen pairs as partnerships of this cohort and its programme; accepting twice changes nothing.

    A cohort with no programme yet gets one named as the cohort. Pairs that would give a city a
    second partner city in the programme are stored only with `allow_second_partner`; without it
    nothing is (`Conflict`, naming each).
    """
    side = {m.profile_id: m.side for m in cohort.members}
    problems = []
    for i, (a, b) in enumerate(pairs):
        for j, city in enumerate((a, b)):
            if city not in side:
                problems.append(FieldProblem(f"/pairs/{i}/{j}", f"{city!r} is not in the cohort"))
        if a in side and b in side and side[a] == side[b]:
            problems.append(FieldProblem(f"/pairs/{i}", f"both on side {side[a]!r}; pairs cross sides"))
    if problems:
        raise InvalidInput("some pairs are not pairs of this cohort; nothing was stored", problems)
    if cohort.programme_row is None:
        cohort.programme_row = programme_named(session, cohort.name)
        session.flush()
    seconds = second_partners(session=session, cohort=cohort, pairs=pairs)
    if seconds and not allow_second_partner:
        raise Conflict(
            f"accepting would give a city a second partner city in the programme {cohort.programme!r}; "
            "nothing was stored: confirm with allow_second_partner",
            [
                FieldProblem(
                    f"/pairs/{next(i for i, p in enumerate(pairs) if set(p) == {s.city, s.partner})}",
                    f"{s.city!r} already has {', '.join(repr(x) for x in s.already)} as partner in the programme",
                )
                for s in seconds
            ],
        )
    existing = partner_pairs(session)
    created = 0
    for a, b in pairs:
        if frozenset((a, b)) not in existing:
            created += 1
        upsert_partnership(
            session, PartnershipIn(a=a, b=b, programme=cohort.programme), accepted_by=accepted_by, cohort=cohort
        )
    session.commit()
    return AcceptOut(cohort=cohort.id, accepted=len(pairs), created=created, accepted_by=accepted_by)
