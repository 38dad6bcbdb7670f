"""How well one profile serves another: coverage of needs by phrases, fused both ways and lexically.

A profile *needs* some of its phrases covered (a city its interests, an organisation asked for
cities its offers) and *serves* others' needs with its phrases (interests, offers, description
sentences). Coverage A→B is the mean, over A's needs, of the best cosine between that need and any
of B's serving phrases: each need counts once, so one strong shared theme cannot hide the others
being absent. City pairings must serve both sides, so the two directions are fused with a harmonic
mean, which stays low when either side is poorly served.
"""

from dataclasses import dataclass, replace

import numpy as np

from matching.types import Kind, PhraseRole

__all__ = [
    "ScoringParams",
    "DirectionRoles",
    "direction_roles",
    "explanation_roles",
    "need_maxima",
    "coverage_block",
    "fuse_directions",
    "hybrid",
]


@dataclass(frozen=True)
class ScoringParams:
    """The few knobs of the score; defaults were chosen on all evaluation bundles at once."""

    description_weight: float = 0.9
    lexical_weight: float = 0.2
    fusion: str = "harmonic"  # harmonic | geometric | arithmetic | min


_ALL = (PhraseRole.INTEREST, PhraseRole.OFFER, PhraseRole.DESCRIPTION)


@dataclass(frozen=True)
class DirectionRoles:
    """Which phrase roles need and which serve, for a query kind asking about a target kind."""

    query_needs: tuple[PhraseRole, ...]
    target_serves: tuple[PhraseRole, ...]
    reciprocal: bool
    # when reciprocal: the target's needs and the query's serving phrases
    target_needs: tuple[PhraseRole, ...] = ()
    query_serves: tuple[PhraseRole, ...] = ()


def direction_roles(query_kind: Kind, target: Kind) -> DirectionRoles:
    """Return the roles that take part when a `query_kind` profile asks for `target` profiles."""
    if query_kind == Kind.CITY and target == Kind.CITY:
        return DirectionRoles(
            query_needs=(PhraseRole.INTEREST,),
            target_serves=_ALL,
            reciprocal=True,
            target_needs=(PhraseRole.INTEREST,),
            query_serves=_ALL,
        )
    if target == Kind.ORGANISATION:
        # a city (or an organisation looking for partners) wants its interests met by offers
        return DirectionRoles(
            query_needs=(PhraseRole.INTEREST,),
            target_serves=(PhraseRole.OFFER, PhraseRole.DESCRIPTION),
            reciprocal=False,
        )
    # an organisation asking which cities want what it offers
    return DirectionRoles(
        query_needs=(PhraseRole.OFFER,),
        target_serves=(PhraseRole.INTEREST, PhraseRole.DESCRIPTION),
        reciprocal=False,
    )


def explanation_roles(query_kind: Kind, target: Kind) -> DirectionRoles:
    """`direction_roles`, with collaborators explained both ways: what the candidate brings that the
    query asks for is quoted beside what the query needs that the candidate serves."""
    roles = direction_roles(query_kind, target)
    if roles.reciprocal or query_kind == target:
        return roles
    mirror = direction_roles(target, query_kind)
    return replace(roles, target_needs=mirror.query_needs, query_serves=mirror.target_serves)


def role_table(wanted: tuple[PhraseRole, ...]) -> np.ndarray:
    """A lookup from role code to "is wanted": indexing it with a roles array beats `np.isin`."""
    table = np.zeros(len(PhraseRole), dtype=bool)
    table[list(wanted)] = True
    return table


def needs_mask(roles: np.ndarray, wanted: tuple[PhraseRole, ...]) -> np.ndarray:
    """Rows of `roles` whose role is wanted; falls back to every phrase when none is.

    A profile without interests still has a description, so it can be scored instead of
    silently scoring zero.
    """
    mask = role_table(wanted)[roles]
    return mask if mask.any() else np.ones_like(mask, dtype=bool)


def serve_weights(roles: np.ndarray, wanted: tuple[PhraseRole, ...], params: ScoringParams) -> np.ndarray:
    """Per-phrase multiplier when serving: 0 for roles that do not serve, less for descriptions."""
    table = role_table(wanted).astype(np.float32)
    table[PhraseRole.DESCRIPTION] *= params.description_weight
    return table[roles]


def need_maxima(
    sims: np.ndarray,
    query_roles: np.ndarray,
    cand_roles: np.ndarray,
    starts: np.ndarray,
    roles: DirectionRoles,
    params: ScoringParams,
) -> np.ndarray:
    """(query needs × candidates): each need's best weighted cosine with each candidate's serving
    phrases, as `coverage_block` takes them (`starts`: each candidate's first phrase in `sims`)."""
    # unserving phrases get weight 0 and so a similarity of 0, below any real match worth having
    weighted = (
        sims[needs_mask(query_roles, roles.query_needs)]
        * serve_weights(cand_roles, roles.target_serves, params)[None, :]
    )
    return np.maximum.reduceat(weighted, starts, axis=1)


def coverage_block(
    sims: np.ndarray,
    query_roles: np.ndarray,
    cand_roles: np.ndarray,
    cand_offsets: np.ndarray,
    roles: DirectionRoles,
    params: ScoringParams,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Return forward (and, for reciprocal pairs, backward) coverage for a block of candidates.

    Parameters
    ----------
    sims : (q, m) cosine of each query phrase with each candidate phrase
    query_roles : (q,) roles of the query's phrases
    cand_roles : (m,) roles of the candidates' phrases, candidates stored one after another
    cand_offsets : (n + 1,) start of each candidate's phrases in the block, then m;
        every candidate has at least one phrase
    """
    starts = cand_offsets[:-1]
    forward = need_maxima(sims, query_roles, cand_roles, starts, roles, params).mean(axis=0)
    if not roles.reciprocal:
        return np.clip(forward, 0.0, None), None

    q_serve = serve_weights(query_roles, roles.query_serves, params)
    best_for_cand_phrase = (sims * q_serve[:, None]).max(axis=0)  # (m,)
    cand_need = role_table(roles.target_needs)[cand_roles]
    counts = np.add.reduceat(cand_need.astype(np.float32), starts)
    sums = np.add.reduceat(np.where(cand_need, best_for_cand_phrase, 0.0), starts)
    # a candidate with no interests is judged on all its phrases, as needs_mask does for queries
    all_counts = np.diff(cand_offsets).astype(np.float32)
    all_sums = np.add.reduceat(best_for_cand_phrase, starts)
    backward = np.where(counts > 0, sums / np.maximum(counts, 1), all_sums / all_counts)
    return np.clip(forward, 0.0, None), np.clip(backward, 0.0, None)


def fuse_directions(forward: np.ndarray, backward: np.ndarray, fusion: str) -> np.ndarray:
    """Fuse the two coverages of a city pairing into one score in [0, 1]."""
    if fusion == "harmonic":
        # two temporaries, not five: the batch fuses blocks of ~15M pairs (same values: ×2 is exact)
        denominator = forward + backward
        np.maximum(denominator, 1e-9, out=denominator)
        fused = forward * backward
        fused *= 2
        fused /= denominator
        return fused
    if fusion == "geometric":
        return np.sqrt(forward * backward)
    if fusion == "arithmetic":
        return (forward + backward) / 2
    if fusion == "min":
        return np.minimum(forward, backward)
    raise ValueError(f"unknown fusion {fusion!r}")


def hybrid(dense: np.ndarray, lexical: np.ndarray, params: ScoringParams) -> np.ndarray:
    """Blend the dense score with the TF-IDF cosine, which rewards exact shared terms (names, acronyms)."""
    return (1 - params.lexical_weight) * dense + params.lexical_weight * lexical
