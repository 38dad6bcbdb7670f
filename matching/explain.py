"""Reasons a person can check: the phrase pairs that made a score, and the themes both sides share."""

from dataclasses import dataclass, field

import numpy as np

from matching.scoring import DirectionRoles, ScoringParams, needs_mask, serve_weights
from matching.themes import ThemeTagger
from matching.vectors import PhraseRole, ProfileVectors

__all__ = ["PhraseMatch", "Explanation", "explain"]

ROLE_NAMES = {PhraseRole.INTEREST: "interest", PhraseRole.OFFER: "offer", PhraseRole.DESCRIPTION: "description"}


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


def _best_pairs(
    needer: ProfileVectors, server: ProfileVectors, need_roles, serve_roles, params: ScoringParams, direction: str, top: int
) -> tuple[list[PhraseMatch], np.ndarray, np.ndarray]:
    need = np.flatnonzero(needs_mask(needer.roles, need_roles))
    weights = serve_weights(server.roles, serve_roles, params)
    serving = weights > 0
    if not serving.any():
        return [], need, np.flatnonzero(serving)
    # a phrase that does not serve must never be quoted as the match, even when every cosine is ≤ 0
    sims = np.where(serving[None, :], (needer.vectors[need] @ server.vectors.T) * weights[None, :], -np.inf)
    best = sims.argmax(axis=1)
    values = sims[np.arange(len(need)), best]
    order = np.argsort(-values, kind="stable")[:top]
    matches = [
        PhraseMatch(
            need=needer.texts[need[i]],
            need_role=ROLE_NAMES[PhraseRole(needer.roles[need[i]])],
            match=server.texts[best[i]],
            match_role=ROLE_NAMES[PhraseRole(server.roles[best[i]])],
            similarity=round(float(values[i]), 4),
            direction=direction,
        )
        for i in order
    ]
    return matches, need, np.flatnonzero(serving)


def explain(
    query: ProfileVectors,
    candidate: ProfileVectors,
    roles: DirectionRoles,
    params: ScoringParams,
    tagger: ThemeTagger | None = None,
    top: int = 3,
) -> Explanation:
    """The best `top` phrase pairs in each scored direction and the themes the two sides share."""
    matches, q_need, c_serve = _best_pairs(query, candidate, roles.query_needs, roles.target_serves, params, "forward", top)
    if roles.reciprocal:
        back, _, _ = _best_pairs(candidate, query, roles.target_needs, roles.query_serves, params, "backward", top)
        matches += back
    themes: list[str] = []
    if tagger is not None:
        need_themes = tagger.profile_themes(query.vectors[q_need])
        serve_themes = tagger.profile_themes(candidate.vectors[c_serve])
        shared = {t: min(need_themes[t], serve_themes[t]) for t in need_themes.keys() & serve_themes.keys()}
        themes = sorted(shared, key=lambda t: (-shared[t], t))
    return Explanation(matches=matches, shared_themes=themes)
