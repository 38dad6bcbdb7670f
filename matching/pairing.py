"""Pairing a whole cohort at once: the assignment that maximises the total weight under constraints
(each pair weighs its score, or its log-odds where scores are a learned ranker's logistic scores).

Per-city top-1 choices collide on popular partners; a cohort-wide optimum does not. Two sides with
one partner each is an assignment problem (`scipy.optimize.linear_sum_assignment`); capacities
above one, or more than two sides, make it a b-matching, solved exactly as a small integer
programme (`scipy.optimize.milp`, HiGHS), whose relaxation is already integral in the bipartite case.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import combinations

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linear_sum_assignment, milp

__all__ = [
    "CohortScores",
    "PairingOptions",
    "ProposedPair",
    "Regret",
    "Pairing",
    "InvalidPairing",
    "optimal_pairing",
    "top1_pairs",
]


class InvalidPairing(ValueError):
    """Options that contradict the cohort or each other (a lock across one side, over capacity, …)."""


@dataclass(frozen=True)
class CohortScores:
    """The members of each side and, for each pair of sides, their score matrix (rows: first side)."""

    sides: Mapping[str, Sequence[str]]
    blocks: Mapping[tuple[str, str], np.ndarray]
    logistic: bool = False  # each score is the logistic of a learned logit: see `weights`

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for members in self.sides.values():
            if seen & set(members):
                raise InvalidPairing(f"{sorted(seen & set(members))} on more than one side")
            seen |= set(members)

    @property
    def side_pairs(self) -> list[tuple[str, str]]:
        return list(combinations(self.sides, 2))

    @cached_property
    def _side(self) -> dict[str, str]:
        return {m: side for side, members in self.sides.items() for m in members}

    @cached_property
    def _position(self) -> dict[str, int]:
        return {m: i for members in self.sides.values() for i, m in enumerate(members)}

    @cached_property
    def _lowest_log_odds(self) -> float:
        return min((float(_log_odds(block).min()) for block in self.blocks.values() if block.size), default=0.0)

    def weights(self, block: np.ndarray) -> np.ndarray:
        """What the pairing maximises the sum of, for a block of these scores.

        Plain scores weigh as they are. Logistic scores weigh by their log-odds: read as the chance
        that a pair is right, the likeliest pairing of a cohort whose cities each take one partner
        is the one with the largest sum of its pairs' log-odds (a sum of the scores would give up a
        near-certain pair for two merely likely ones). Shifted so that every pair weighs at least 1, as
        pairing one more city must never lower the total.
        """
        if not self.logistic:
            return np.asarray(block, dtype=np.float64)
        return _log_odds(block) - self._lowest_log_odds + 1.0

    def side_of(self) -> dict[str, str]:
        return self._side

    def block(self, sa: str, sb: str) -> np.ndarray:
        """Scores of side `sa` (rows) with side `sb` (columns), whichever way the block is stored."""
        return self.blocks[(sa, sb)] if (sa, sb) in self.blocks else self.blocks[(sb, sa)].T

    def score(self, a: str, b: str) -> float:
        return float(self.block(self._side[a], self._side[b])[self._position[a], self._position[b]])

    def candidates(self, city: str) -> tuple[list[str], np.ndarray]:
        """Every member of the other sides, and the city's score with each."""
        mine = self._side[city]
        ids: list[str] = []
        rows: list[np.ndarray] = []
        for side, members in self.sides.items():
            if side != mine:
                ids.extend(members)
                rows.append(self.block(mine, side)[self._position[city]])
        return ids, (np.concatenate(rows) if rows else np.zeros(0))

    def ranked(self, city: str) -> list[tuple[str, float]]:
        """The other sides' members by score, best first, ties by id."""
        ids, scores = self.candidates(city)
        order = sorted(range(len(ids)), key=lambda i: (-scores[i], ids[i]))
        return [(ids[i], float(scores[i])) for i in order]


def _log_odds(scores: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(scores, dtype=np.float64), 1e-9, 1 - 1e-9)
    return np.log(p) - np.log1p(-p)


@dataclass(frozen=True)
class PairingOptions:
    capacity: Mapping[str, int] = field(default_factory=dict)  # partners a city may take; default 1
    locked: Sequence[tuple[str, str]] = ()  # agreed pairs, kept as they are
    forbidden: Sequence[tuple[str, str]] = ()  # exclusions, past partnerships
    min_score: float = 0.0  # below this a city stays unpaired rather than take a poor match

    def capacity_of(self, city: str) -> int:
        return int(self.capacity.get(city, 1))

    def reaches(self, scores: np.ndarray | float) -> np.ndarray:
        """Whether each score reaches the minimum as a person reads it: a score shown as 0.30 (two
        decimals) reaches a minimum of 0.3 although it is 0.2996."""
        scores = np.asarray(scores, dtype=np.float64)
        return np.maximum(scores, np.round(scores, 2)) >= self.min_score


@dataclass(frozen=True)
class ProposedPair:
    a: str
    b: str
    score: float
    locked: bool = False


@dataclass(frozen=True)
class Regret:
    """A city's own best candidate, how far it scores above what the city got, and why it went elsewhere."""

    city: str
    best: str
    best_score: float
    assigned_score: float | None  # the city's weakest assigned partner, None when unpaired
    gap: float
    reason: str


@dataclass(frozen=True)
class Pairing:
    pairs: list[ProposedPair]
    unpaired: list[str]
    total: float
    regrets: list[Regret]
    options: dict[str, list[tuple[str, float]]]  # each unpaired city's best candidates not forbidden, any score
    left_out: dict[str, str]  # why each unpaired city is, in a sentence


def _edges(
    scores: CohortScores, options: PairingOptions, locked: set[frozenset[str]]
) -> tuple[list[str], list[int], list[int], np.ndarray, np.ndarray]:
    """Every allowed cross-side pair (not forbidden, not locked: handled apart, at or above
    min_score): its two ends, its weight in the objective and its score."""
    ids = [m for members in scores.sides.values() for m in members]
    position = {m: i for i, m in enumerate(ids)}
    forbidden = {frozenset(p) for p in options.forbidden}
    rows, cols, weights, shown = [], [], [], []
    for sa, sb in scores.side_pairs:
        block = scores.block(sa, sb)
        ia, ib = np.nonzero(options.reaches(block))
        if forbidden or locked:
            skip = forbidden | locked
            keep = np.array(
                [frozenset((scores.sides[sa][i], scores.sides[sb][j])) not in skip for i, j in zip(ia, ib)], dtype=bool
            )
            if len(keep):
                ia, ib = ia[keep], ib[keep]
        rows.extend(position[scores.sides[sa][i]] for i in ia)
        cols.extend(position[scores.sides[sb][j]] for j in ib)
        shown.extend(block[ia, ib].tolist())
        weights.extend(scores.weights(block[ia, ib]).tolist())
    return ids, rows, cols, np.array(weights, dtype=np.float64), np.array(shown, dtype=np.float64)


def _check_locks(scores: CohortScores, options: PairingOptions) -> dict[str, int]:
    side = scores.side_of()
    forbidden = {frozenset(p) for p in options.forbidden}
    used: dict[str, int] = {}
    for a, b in options.locked:
        for city in (a, b):
            if city not in side:
                raise InvalidPairing(f"locked pair {a}={b}: {city!r} is not in the cohort")
        if side[a] == side[b]:
            raise InvalidPairing(f"locked pair {a}={b}: both are on side {side[a]!r}; pairs cross sides")
        if frozenset((a, b)) in forbidden:
            raise InvalidPairing(f"locked pair {a}={b} is also forbidden")
        for city in (a, b):
            used[city] = used.get(city, 0) + 1
            if used[city] > options.capacity_of(city):
                raise InvalidPairing(f"{city!r} has more locked partners than its capacity {options.capacity_of(city)}")
    for city, cap in options.capacity.items():
        if city not in side:
            raise InvalidPairing(f"capacity for {city!r}, which is not in the cohort")
        if cap < 0:
            raise InvalidPairing(f"capacity of {city!r} must be at least 0")
    return used


def _assignment(
    scores: CohortScores, options: PairingOptions, locked: set[frozenset[str]], remaining: dict[str, int]
) -> list[tuple[str, str, float]]:
    """Two sides, at most one more partner each: an assignment problem on the score block.

    Pairs that may not be made weigh 0, never better than leaving both unpaired, and are dropped.
    """
    (sa, left), (sb, right) = scores.sides.items()
    shown = np.array(scores.block(sa, sb), dtype=np.float64)
    allowed = options.reaches(shown)
    allowed[np.array([remaining[m] < 1 for m in left], dtype=bool), :] = False
    allowed[:, np.array([remaining[m] < 1 for m in right], dtype=bool)] = False
    li = {m: i for i, m in enumerate(left)}
    ri = {m: j for j, m in enumerate(right)}
    for pair in {frozenset(p) for p in options.forbidden} | locked:
        a, b = tuple(pair) if len(pair) == 2 else (None, None)
        if a in ri:
            a, b = b, a
        if a in li and b in ri:
            allowed[li[a], ri[b]] = False
    matrix = np.where(allowed, scores.weights(shown), 0.0)
    rows, cols = linear_sum_assignment(matrix, maximize=True)
    keep = allowed[rows, cols] & (matrix[rows, cols] > 0)
    return [(left[i], right[j], float(shown[i, j])) for i, j in zip(rows[keep], cols[keep])]


def _b_matching(
    scores: CohortScores, options: PairingOptions, locked: set[frozenset[str]], remaining: dict[str, int]
) -> list[tuple[str, str, float]]:
    """Capacities above one or more than two sides: an exact integer programme over allowed pairs."""
    ids, rows, cols, weights, shown = _edges(scores, options, locked)
    if not len(weights):
        return []
    n, m = len(ids), len(weights)
    incidence = sparse.csr_matrix(
        (np.ones(2 * m), (np.concatenate([rows, cols]), np.concatenate([np.arange(m), np.arange(m)]))), shape=(n, m)
    )
    capacity = np.array([remaining[i] for i in ids], dtype=np.float64)
    result = milp(
        c=-weights,
        constraints=[LinearConstraint(incidence, -np.inf, capacity)],
        integrality=np.ones(m),
        bounds=Bounds(0, 1),
    )
    if result.x is None:
        raise InvalidPairing(f"no pairing satisfies the constraints: {result.message}")
    return [(ids[rows[e]], ids[cols[e]], float(shown[e])) for e in np.flatnonzero(result.x > 0.5)]


def _unique_pairs(pairs: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    seen: set[frozenset[str]] = set()
    out = []
    for a, b in pairs:
        if frozenset((a, b)) not in seen:
            seen.add(frozenset((a, b)))
            out.append((a, b))
    return tuple(out)


def optimal_pairing(scores: CohortScores, options: PairingOptions = PairingOptions()) -> Pairing:
    """The pairing with the highest total weight (`CohortScores.weights`) that respects every option."""
    # the same agreed pair named twice (either way round) is one pair
    options = PairingOptions(options.capacity, _unique_pairs(options.locked), options.forbidden, options.min_score)
    locked = {frozenset(p) for p in options.locked}
    used = _check_locks(scores, options)
    members = [m for ms in scores.sides.values() for m in ms]
    remaining = {m: max(options.capacity_of(m) - used.get(m, 0), 0) for m in members}
    if len(scores.sides) == 2 and all(r <= 1 for r in remaining.values()):
        chosen = _assignment(scores, options, locked, remaining)
    else:
        chosen = _b_matching(scores, options, locked, remaining)
    ids = members

    pairs = [
        ProposedPair(*_ordered(scores, a, b), score=round(scores.score(a, b), 6), locked=True)
        for a, b in options.locked
    ]
    pairs += [ProposedPair(*_ordered(scores, a, b), score=round(w, 6)) for a, b, w in chosen]
    pairs.sort(key=lambda p: (-p.score, p.a, p.b))
    partners: dict[str, list[tuple[str, float]]] = {m: [] for m in ids}
    for p in pairs:
        partners[p.a].append((p.b, p.score))
        partners[p.b].append((p.a, p.score))
    unpaired = [m for m in ids if not partners[m]]
    regrets, best_options = _regrets(scores, options, ids, partners, unpaired)
    return Pairing(
        pairs=pairs,
        unpaired=unpaired,
        total=round(sum(p.score for p in pairs), 6),
        regrets=regrets,
        options=best_options,
        left_out={city: _left_out(scores, options, partners, city) for city in unpaired},
    )


def _left_out(
    scores: CohortScores, options: PairingOptions, partners: dict[str, list[tuple[str, float]]], city: str
) -> str:
    """Why an unpaired city is: the first of no room, no candidate, every candidate forbidden, none
    reaching the minimum score, every candidate reaching it taken (by agreed pairs or a higher total)."""
    if options.capacity_of(city) == 0:
        return "its capacity is 0"
    ids, values = scores.candidates(city)
    if not ids:
        return "the other sides have no members"
    forbidden = {frozenset(p) for p in options.forbidden}
    allowed = [(o, float(s)) for o, s in zip(ids, values) if frozenset((city, o)) not in forbidden]
    if not allowed:
        return "every candidate is forbidden: an exclusion or a partnership made before"
    reaching = [(o, s) for o, s in allowed if options.reaches(s)]
    if not reaching:
        best, score = max(allowed, key=lambda x: (x[1], x[0]))
        return (
            f"no allowed candidate reaches the minimum score {options.min_score:.2f} "
            f"(the best, {best}, scores {score:.2f})"
        )
    locked = {frozenset(p) for p in options.locked}
    full = [o for o, _ in reaching if len(partners[o]) >= options.capacity_of(o)]
    if len(full) < len(reaching):
        return "pairing it would lower the cohort's total: its candidates score higher with others"
    if all(all(frozenset((o, p)) in locked for p, _ in partners[o]) for o in full):
        return "every candidate reaching the minimum score is taken by an agreed pair"
    return "every candidate reaching the minimum score is paired with a city it fits better, for a higher total"


def _ordered(scores: CohortScores, a: str, b: str) -> tuple[str, str]:
    """A pair with its member of the earlier side first, so output reads side by side."""
    order = {side: i for i, side in enumerate(scores.sides)}
    side = scores.side_of()
    return (a, b) if order[side[a]] <= order[side[b]] else (b, a)


def _regrets(
    scores, options: PairingOptions, ids, partners, unpaired
) -> tuple[list[Regret], dict[str, list[tuple[str, float]]]]:
    forbidden = {frozenset(p) for p in options.forbidden}
    regrets, best_options = [], {}
    for city in ids:
        ids, values = scores.candidates(city)
        if not ids:
            continue
        # only the few best matter: take them by partial sort, then skip forbidden ones in order
        head = min(len(ids), 8 + len(forbidden))
        top = np.argpartition(-values, head - 1)[:head] if head < len(ids) else np.arange(len(ids))
        ranked = sorted(((ids[i], float(values[i])) for i in top), key=lambda x: (-x[1], x[0]))
        ranked = [(o, s) for o, s in ranked if frozenset((city, o)) not in forbidden]
        if city in unpaired:
            best_options[city] = [(o, round(s, 6)) for o, s in ranked[:3]]
        mine = {o for o, _ in partners[city]}
        best = next(((o, s) for o, s in ranked if options.reaches(s)), None)
        if best is None or best[0] in mine:
            continue
        got = min((s for _, s in partners[city]), default=None)
        gap = best[1] - (got or 0.0)
        if got is not None and gap <= 0:
            continue
        theirs = partners[best[0]]
        room = options.capacity_of(best[0])
        if (
            len(theirs) >= room
            and not any(o == city for o, _ in theirs)
            and (room == 0 or all(frozenset((best[0], o)) in {frozenset(p) for p in options.locked} for o, _ in theirs))
        ):
            taken = ", ".join(o for o, _ in theirs)
            reason = f"{best[0]} has no room: capacity {room}" + (
                f", taken by agreed pairs with {taken}" if taken else ""
            )
        elif theirs:
            names = ", ".join(f"{o} ({s:.3f})" for o, s in theirs)
            reason = f"{best[0]} was paired with {names}: that gives the cohort a higher total"
        else:
            reason = f"{best[0]} stays unpaired: pairing it with {city} would lower the cohort's total"
        regrets.append(Regret(city, best[0], round(best[1], 6), got, round(gap, 6), reason))
    return regrets, best_options


def top1_pairs(scores: CohortScores) -> set[frozenset[str]]:
    """What each city would get by simply taking its own first suggestion: the baseline."""
    out = set()
    for city in scores.side_of():
        ids, values = scores.candidates(city)
        if ids:
            best = min(range(len(ids)), key=lambda i: (-values[i], ids[i]))
            out.add(frozenset((city, ids[best])))
    return out
