"""Reasons a person can check: the phrase pairs that made a score, and the themes both sides share."""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from matching.scoring import (
    DirectionRoles,
    ScoringParams,
    direction_roles,
    need_maxima,
    needs_mask,
    role_table,
    serve_weights,
)
from matching.themes import ThemeTagger
from matching.types import Kind, PhraseRole
from matching.vectors import ProfileVectors, stacked

__all__ = [
    "PhraseMatch",
    "Explanation",
    "explain",
    "explain_many",
    "explain_block",
    "need_best_cosines",
    "separating_threshold",
]

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
    close: bool = True  # False below the similarity that means something: shown as "no close match"


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
    """`explain` of one query with each candidate: what a suggestion request shows for its k answers."""
    return explain_block([query], [candidates], roles, params, tagger, top)[0]


def explain_block(
    queries: Sequence[ProfileVectors],
    candidates: Sequence[Sequence[ProfileVectors]],
    roles: DirectionRoles,
    params: ScoringParams,
    tagger: ThemeTagger | None = None,
    top: int = 3,
    close_at: float = 0.0,
) -> list[list[Explanation]]:
    """`explain_many` of each query with its own candidates, a whole block of queries at once.

    Backward matches (the candidate's needs) are quoted whenever `roles` names the candidate's
    needs: city pairings, and collaborators asked both ways (what the organisation offers that
    the city asks for). A match below `close_at` is marked not close.

    The batch explains k suggestions for each of hundreds of queries: every (query, candidate)
    pair's phrases are stacked, so that roles, argmaxes, orderings and themes are taken for the
    whole block together. Each cosine block stays one product per pair, shaped as `explain`
    always took it: OpenBLAS picks its float32 kernel by shape, so a stacked product could move
    a quoted similarity by an ulp, and with it a fourth decimal or a tie, away from the live one.
    """
    if not any(candidates):
        return [[] for _ in queries]
    block = _Block.of(queries, candidates, roles, params)
    matches = _forward_matches(block, top)
    if roles.target_needs:
        matches = [f + b for f, b in zip(matches, _backward_matches(block, roles, params, top))]
    if close_at > 0:
        matches = [[m if m.similarity >= close_at else replace(m, close=False) for m in ms] for ms in matches]
    themes: list[list[str]] = [[] for _ in range(block.n_pairs)]
    if tagger is not None:
        themes = _shared_themes_of_pairs(block, tagger)
    explained = [Explanation(matches=m, shared_themes=t) for m, t in zip(matches, themes)]
    return [explained[a:b] for a, b in zip(block.pair_bounds, block.pair_bounds[1:])]


@dataclass(frozen=True)
class _Block:
    """Every (query, candidate) pair of a block, the candidates' phrases stacked pair after pair."""

    queries: Sequence[ProfileVectors]
    candidates: list[ProfileVectors]  # of each pair
    query_of: np.ndarray  # the query of each pair
    pair_bounds: list[int]  # each query's pairs: pair_bounds[i] to pair_bounds[i + 1]
    bounds: np.ndarray  # each pair's stacked phrases: bounds[p] to bounds[p + 1]
    owner: np.ndarray  # the pair of each stacked phrase
    roles: np.ndarray  # of each stacked phrase
    weights: np.ndarray  # each stacked phrase's serve weight
    needs: list[np.ndarray]  # each query's need phrases
    cosines: list[np.ndarray]  # each query's (its needs × its pairs' stacked phrases)

    @property
    def n_pairs(self) -> int:
        return len(self.candidates)

    @classmethod
    def of(
        cls,
        queries: Sequence[ProfileVectors],
        candidates: Sequence[Sequence[ProfileVectors]],
        roles: DirectionRoles,
        params: ScoringParams,
    ) -> "_Block":
        """The block of these queries and candidates; there must be at least one pair."""
        flat = [c for cs in candidates for c in cs]
        pair_bounds = np.concatenate(([0], np.cumsum([len(cs) for cs in candidates]))).astype(np.int64)
        lengths = np.array([len(c) for c in flat], dtype=np.int64)
        bounds = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
        cand_roles = np.concatenate([c.roles for c in flat])
        needs = [np.flatnonzero(needs_mask(q.roles, roles.query_needs)) for q in queries]
        cosines = [_cosines(q.vectors[need], cs) for q, need, cs in zip(queries, needs, candidates)]
        return cls(
            queries=queries,
            candidates=flat,
            query_of=np.repeat(np.arange(len(queries)), np.diff(pair_bounds)),
            pair_bounds=pair_bounds.tolist(),
            bounds=bounds,
            owner=np.repeat(np.arange(len(flat)), lengths),
            roles=cand_roles,
            weights=serve_weights(cand_roles, roles.target_serves, params),
            needs=needs,
            cosines=cosines,
        )


def _cosines(rows: np.ndarray, candidates: Sequence[ProfileVectors]) -> np.ndarray:
    """(rows × the candidates' phrases stacked): one product per candidate, as `explain` takes it."""
    if not candidates:
        return np.zeros((len(rows), 0), dtype=np.float32)
    return np.concatenate([rows @ c.vectors.T for c in candidates], axis=1)


def _forward_matches(block: _Block, top: int) -> list[list[PhraseMatch]]:
    """Each query need with its best serving phrase of each candidate, best `top` needs first.

    A phrase that does not serve is dropped before the argmax: it must never be quoted as the
    match, even when every cosine is ≤ 0. The block's needs are rows (a query with fewer needs
    than the most gets rows of −inf, never quoted), its serving phrases columns, and each pair's
    argmax a reduction over its run of columns.
    """
    out: list[list[PhraseMatch]] = [[] for _ in range(block.n_pairs)]
    serving = block.weights > 0
    columns = np.flatnonzero(serving)
    width = max((len(n) for n in block.needs), default=0)
    if len(columns) == 0 or width == 0:
        return out
    sims = np.full((width, len(columns)), -np.inf, dtype=np.float32)  # (needs, serving phrases of all pairs)
    at = np.concatenate(([0], np.cumsum(serving))).astype(np.int64)  # stacked phrase → its serving column
    for i, (need, cosines) in enumerate(zip(block.needs, block.cosines)):
        a, b = block.bounds[block.pair_bounds[i]], block.bounds[block.pair_bounds[i + 1]]
        if len(need) and at[b] > at[a]:
            local = columns[at[a] : at[b]] - a
            sims[: len(need), at[a] : at[b]] = cosines[:, local] * block.weights[columns[at[a] : at[b]]]
    served, starts, counts = np.unique(block.owner[columns], return_index=True, return_counts=True)
    # per (need, pair): the first column holding the maximum, the one argmax picks
    peak = np.repeat(np.maximum.reduceat(sims, starts, axis=1), counts, axis=1)
    best = np.minimum.reduceat(np.where(sims == peak, np.arange(len(columns)), len(columns)), starts, axis=1)
    values = np.take_along_axis(sims, best, axis=1)
    order = np.argsort(-values, axis=0, kind="stable")[:top]
    # the matched phrase's index in its candidate; per pair, as Python values, for quoting
    phrases = (columns[best] - block.bounds[served]).T.tolist()
    needs = [need.tolist() for need in block.needs]
    for p, i, pair_order, phrase, value in zip(
        served.tolist(), block.query_of[served].tolist(), order.T.tolist(), phrases, values.T.tolist()
    ):
        query, need, candidate = block.queries[i], needs[i], block.candidates[p]
        out[p] = [
            _match(query, need[n], candidate, phrase[n], value[n], "forward") for n in pair_order if n < len(need)
        ]
    return out


def _backward_matches(block: _Block, roles: DirectionRoles, params: ScoringParams, top: int) -> list[list[PhraseMatch]]:
    """Each candidate's needs with its query's phrase that serves each best, best `top` first.

    Rows are the needs of every pair's candidate, columns a query's serving phrases (fewer than
    the most: −inf, never the argmax); pairs whose query serves with nothing quote nothing.
    """
    out: list[list[PhraseMatch]] = [[] for _ in range(block.n_pairs)]
    weights = [serve_weights(q.roles, roles.query_serves, params) for q in block.queries]
    serving = [np.flatnonzero(w > 0) for w in weights]
    need = role_table(roles.target_needs)[block.roles]
    # a candidate without a phrase of the needing roles needs all its phrases, as in `needs_mask`
    need |= (np.bincount(block.owner[need], minlength=block.n_pairs) == 0)[block.owner]
    need &= np.array([len(s) > 0 for s in serving])[block.query_of][block.owner]
    rows = np.flatnonzero(need)  # the stacked phrase of each row
    width = max((len(s) for s in serving), default=0)
    if len(rows) == 0:
        return out
    sims = np.full((len(rows), width), -np.inf, dtype=np.float32)  # (needs of all pairs, serving query phrases)
    row_bounds = np.searchsorted(rows, block.bounds[block.pair_bounds])
    for i, (query, s, w) in enumerate(zip(block.queries, serving, weights)):
        r0, r1 = row_bounds[i], row_bounds[i + 1]
        if r1 > r0:
            # one product per pair, as `explain` takes it (see `explain_block`)
            pairs = range(block.pair_bounds[i], block.pair_bounds[i + 1])
            cosines = np.concatenate(
                [
                    block.candidates[p].vectors[need[block.bounds[p] : block.bounds[p + 1]]] @ query.vectors.T
                    for p in pairs
                ]
            )
            sims[r0:r1, : len(s)] = cosines[:, s] * w[s]
    best = sims.argmax(axis=1)
    values = sims[np.arange(len(sims)), best]
    row_owner = block.owner[rows]
    order = np.lexsort((-values, row_owner))  # stable: by pair, then best first
    rank = np.arange(len(order)) - np.searchsorted(row_owner, row_owner[order])
    quoted = order[rank < top]
    pairs, phrases = (
        row_owner[quoted],
        rows[quoted] - block.bounds[row_owner[quoted]],
    )  # the need's index in its candidate
    for p, i, phrase, r in zip(pairs.tolist(), block.query_of[pairs].tolist(), phrases.tolist(), quoted.tolist()):
        out[p].append(
            _match(
                block.candidates[p], phrase, block.queries[i], int(serving[i][best[r]]), float(values[r]), "backward"
            )
        )
    return out


def _shared_themes_of_pairs(block: _Block, tagger: ThemeTagger) -> list[list[str]]:
    """Themes of each query's needs shared with its candidate's serving phrases; each candidate tagged once."""
    need_themes = tagger.profile_themes_many([q.vectors[n] for q, n in zip(block.queries, block.needs)])
    first: dict[int, int] = {}  # a candidate repeated in the block (same vectors object): its first pair
    for p, c in enumerate(block.candidates):
        first.setdefault(id(c), p)
    distinct = list(first.values())
    serving = block.weights > 0
    serve_themes = tagger.profile_themes_many(
        [block.candidates[p].vectors[serving[block.bounds[p] : block.bounds[p + 1]]] for p in distinct]
    )
    themes_of = dict(zip((id(block.candidates[p]) for p in distinct), serve_themes))
    return [_shared_themes(need_themes[i], themes_of[id(c)]) for i, c in zip(block.query_of.tolist(), block.candidates)]


def _match(
    needer: ProfileVectors, need: int, server: ProfileVectors, match: int, similarity: float, direction: str
) -> PhraseMatch:
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


def need_best_cosines(
    direction: tuple[Kind, Kind], query: ProfileVectors, candidates: Sequence[ProfileVectors], params: ScoringParams
) -> np.ndarray:
    """(query needs × candidates): how well each candidate serves each of the query's needs, as a
    forward match quotes it (the best weighted cosine, floored at 0). Candidates without phrases get 0."""
    roles = direction_roles(*direction)
    out = np.zeros((int(needs_mask(query.roles, roles.query_needs).sum()), len(candidates)))
    keep = np.array([len(c) > 0 for c in candidates], dtype=bool)
    if keep.any() and len(query):
        vectors, stacked_roles, offsets = stacked([c for c in candidates if len(c)])
        sims = query.vectors.astype(np.float64) @ vectors.T
        out[:, keep] = np.clip(need_maxima(sims, query.roles, stacked_roles, offsets[:-1], roles, params), 0.0, None)
    return out


def separating_threshold(positive: np.ndarray, negative: np.ndarray) -> float:
    """The cosine that best separates needs served by a true partner from needs served by others
    (the largest true-positive minus false-positive rate, Youden's J), rounded to 0.01: below it a
    phrase pair is "no close match"."""
    if len(positive) == 0 or len(negative) == 0:
        return 0.0
    grid = np.round(np.arange(0.0, 1.0, 0.01), 2)
    gain = [(positive >= t).mean() - (negative >= t).mean() for t in grid]
    return float(grid[int(np.argmax(gain))])
