"""Reasons a person can check: the phrase pairs that made a score, and the themes both sides share."""

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from matching.scoring import DirectionRoles, ScoringParams, needs_mask, role_table, serve_weights
from matching.themes import ThemeTagger
from matching.vectors import PhraseRole, ProfileVectors

__all__ = ["PhraseMatch", "Explanation", "explain", "explain_many"]

ROLE_NAMES = {PhraseRole.INTEREST: "interest", PhraseRole.OFFER: "offer", PhraseRole.DESCRIPTION: "description"}
_ROLE_NAME = [ROLE_NAMES[role] for role in PhraseRole]  # by role code: no enum built per quoted phrase


@dataclass(frozen=True)
class PhraseMatch:
    """One need of one side and the phrase of the other side that serves it best."""

    need: str
    need_role: str
    match: str
    match_role: str
    similarity: float
    direction: str  # "forward": the query's need; "backward": the candidate's need


@dataclass(frozen=True)
class Explanation:
    matches: list[PhraseMatch] = field(default_factory=list)
    shared_themes: list[str] = field(default_factory=list)


def explain(
    query: ProfileVectors,
    candidate: ProfileVectors,
    roles: DirectionRoles,
    params: ScoringParams,
    tagger: ThemeTagger | None = None,
    top: int = 3,
) -> Explanation:
    """The best `top` phrase pairs in each scored direction and the themes the two sides share."""
    return explain_many(query, [candidate], roles, params, tagger, top)[0]


def explain_many(
    query: ProfileVectors,
    candidates: Sequence[ProfileVectors],
    roles: DirectionRoles,
    params: ScoringParams,
    tagger: ThemeTagger | None = None,
    top: int = 3,
) -> list[Explanation]:
    """`explain` of one query with each candidate, the query's share of the work done once.

    A suggestion request explains its k answers: the query's needs and their themes are found
    once, and the candidates' phrases are stacked so that roles, argmaxes and orderings are taken
    for all of them together. Each cosine block stays one product per candidate, shaped as
    `explain` always took it: OpenBLAS picks its float32 kernel by shape, so a stacked product
    could move a quoted similarity by an ulp, and with it a fourth decimal or a tie.
    """
    if not candidates:
        return []
    lengths = [len(c) for c in candidates]
    bounds = np.concatenate(([0], np.cumsum(lengths))).tolist()
    owner = np.repeat(np.arange(len(candidates)), lengths)  # the candidate of each stacked phrase
    cand_roles = np.concatenate([c.roles for c in candidates])
    weights = serve_weights(cand_roles, roles.target_serves, params)
    q_need = np.flatnonzero(needs_mask(query.roles, roles.query_needs))
    need_vectors = query.vectors[q_need]
    cosines = np.concatenate([need_vectors @ c.vectors.T for c in candidates], axis=1)
    matches = _forward_matches(query, q_need, candidates, cosines, weights, owner, bounds, top)
    if roles.reciprocal:
        backward = _backward_matches(query, candidates, cand_roles, owner, bounds, roles, params, top)
        matches = [f + b for f, b in zip(matches, backward)]
    themes: list[list[str]] = [[] for _ in candidates]
    if tagger is not None:
        need_themes = tagger.profile_themes(need_vectors)
        serve_themes = tagger.profile_themes_many([c.vectors[weights[a:b] > 0] for c, a, b in zip(candidates, bounds, bounds[1:])])
        themes = [_shared_themes(need_themes, t) for t in serve_themes]
    return [Explanation(matches=m, shared_themes=t) for m, t in zip(matches, themes)]


def _forward_matches(
    query: ProfileVectors,
    q_need: np.ndarray,
    candidates: Sequence[ProfileVectors],
    cosines: np.ndarray,
    weights: np.ndarray,
    owner: np.ndarray,
    bounds: list[int],
    top: int,
) -> list[list[PhraseMatch]]:
    """Each query need with its best serving phrase of each candidate, best `top` needs first.

    A phrase that does not serve is dropped before the argmax: it must never be quoted as the
    match, even when every cosine is ≤ 0. Each candidate's argmax is then a reduction over its
    run of the remaining columns.
    """
    out: list[list[PhraseMatch]] = [[] for _ in candidates]
    columns = np.flatnonzero(weights > 0)
    if len(columns) == 0:
        return out
    sims = cosines[:, columns] * weights[columns]  # (query needs, serving phrases of all candidates)
    served, starts, counts = np.unique(owner[columns], return_index=True, return_counts=True)
    # per (need, candidate): the first column holding the maximum, the one argmax picks
    peak = np.repeat(np.maximum.reduceat(sims, starts, axis=1), counts, axis=1)
    best = np.minimum.reduceat(np.where(sims == peak, np.arange(len(columns)), len(columns)), starts, axis=1)
    values = np.take_along_axis(sims, best, axis=1)
    order = np.argsort(-values, axis=0, kind="stable")[:top]
    phrase = columns[best] - np.array(bounds)[served]  # the matched phrase's index in its candidate
    for j, i in enumerate(served):
        out[i] = [_match(query, q_need[n], candidates[i], phrase[n, j], values[n, j], "forward") for n in order[:, j]]
    return out


def _backward_matches(
    query: ProfileVectors,
    candidates: Sequence[ProfileVectors],
    cand_roles: np.ndarray,
    owner: np.ndarray,
    bounds: list[int],
    roles: DirectionRoles,
    params: ScoringParams,
    top: int,
) -> list[list[PhraseMatch]]:
    """Each candidate's needs with the query's phrase that serves each best, best `top` first."""
    out: list[list[PhraseMatch]] = [[] for _ in candidates]
    weights = serve_weights(query.roles, roles.query_serves, params)
    serving = np.flatnonzero(weights > 0)
    if len(serving) == 0:
        return out
    need = role_table(roles.target_needs)[cand_roles]
    # a candidate without a phrase of the needing roles needs all its phrases, as in `needs_mask`
    need |= (np.bincount(owner[need], minlength=len(candidates)) == 0)[owner]
    blocks = [c.vectors[need[a:b]] @ query.vectors.T for c, a, b in zip(candidates, bounds, bounds[1:])]
    sims = np.concatenate(blocks)[:, serving] * weights[serving]  # (needs of all candidates, serving query phrases)
    best = sims.argmax(axis=1)
    values = sims[np.arange(len(sims)), best]
    rows = np.flatnonzero(need)  # the stacked phrase of each row
    row_owner = owner[rows]
    order = np.lexsort((-values, row_owner))  # stable: by candidate, then best first
    rank = np.arange(len(order)) - np.searchsorted(row_owner, row_owner[order])
    for r in order[rank < top]:
        i = row_owner[r]
        out[i].append(_match(candidates[i], rows[r] - bounds[i], query, serving[best[r]], values[r], "backward"))
    return out


def _match(needer: ProfileVectors, need: int, server: ProfileVectors, match: int, similarity: float, direction: str) -> PhraseMatch:
    return PhraseMatch(
        need=needer.texts[need],
        need_role=_ROLE_NAME[needer.roles[need]],
        match=server.texts[match],
        match_role=_ROLE_NAME[server.roles[match]],
        similarity=round(float(similarity), 4),
        direction=direction,
    )


def _shared_themes(need_themes: dict[str, float], serve_themes: dict[str, float]) -> list[str]:
    """Themes on both sides, the weaker side's strength first, then by id."""
    shared = {t: min(need_themes[t], serve_themes[t]) for t in need_themes.keys() & serve_themes.keys()}
    return sorted(shared, key=lambda t: (-shared[t], t))
