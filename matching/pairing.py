"""Pairing a whole cohort at once: the assignment that maximises the total score under constraints.

Per-city top-1 choices collide on popular partners; a cohort-wide optimum does not. Two sides with
one partner each is an assignment problem (`scipy.optimize.linear_sum_assignment`); capacities
above one, or more than two sides, make it a b-matching, solved exactly as a small integer
programme (`scipy.optimize.milp`, HiGHS), whose relaxation is already integral in the bipartite case.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linear_sum_assignment, milp

__all__ = ["CohortScores", "PairingOptions", "ProposedPair", "Regret", "Pairing", "InvalidPairing", "optimal_pairing", "top1_pairs"]


class InvalidPairing(ValueError):
    """Options that contradict the cohort or each other (a lock across one side, over capacity, …)."""


@dataclass(frozen=True)
class CohortScores:
    """The members of each side and, for each pair of sides, their score matrix (rows: first side)."""

    sides: Mapping[str, Sequence[str]]
    blocks: Mapping[tuple[str, str], np.ndarray]

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for members in self.sides.values():
            if seen & set(members):
                raise InvalidPairing(f"{sorted(seen & set(members))} on more than one side")
            seen |= set(members)

    @property
    def side_pairs(self) -> list[tuple[str, str]]:
        return list(combinations(self.sides, 2))

    def side_of(self) -> dict[str, str]:
        return {m: side for side, members in self.sides.items() for m in members}

    def score(self, a: str, b: str) -> float:
        side = self.side_of()
        sa, sb = side[a], side[b]
        if (sa, sb) in self.blocks:
            return float(self.blocks[(sa, sb)][list(self.sides[sa]).index(a), list(self.sides[sb]).index(b)])
        return float(self.blocks[(sb, sa)][list(self.sides[sb]).index(b), list(self.sides[sa]).index(a)])


@dataclass(frozen=True)
class PairingOptions:
    capacity: Mapping[str, int] = field(default_factory=dict)  # partners a city may take; default 1
    locked: Sequence[tuple[str, str]] = ()  # agreed pairs, kept as they are
    forbidden: Sequence[tuple[str, str]] = ()  # exclusions, past partnerships
    min_score: float = 0.0  # below this a city stays unpaired rather than take a poor match

    def capacity_of(self, city: str) -> int:
        return int(self.capacity.get(city, 1))


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


def _edges(scores: CohortScores, options: PairingOptions, locked: set[frozenset[str]]) -> tuple[list[str], list[int], list[int], np.ndarray]:
    """Every allowed cross-side pair: not forbidden, not locked (handled apart), at or above min_score."""
    ids = [m for members in scores.sides.values() for m in members]
    position = {m: i for i, m in enumerate(ids)}
    forbidden = {frozenset(p) for p in options.forbidden}
    rows, cols, weights = [], [], []
    for sa, sb in scores.side_pairs:
        block = scores.blocks[(sa, sb)] if (sa, sb) in scores.blocks else scores.blocks[(sb, sa)].T
        ia, ib = np.nonzero(block >= options.min_score)
        for i, j in zip(ia, ib):
            a, b = scores.sides[sa][i], scores.sides[sb][j]
            pair = frozenset((a, b))
            if pair in forbidden or pair in locked:
                continue
            rows.append(position[a])
            cols.append(position[b])
            weights.append(float(block[i, j]))
    return ids, rows, cols, np.array(weights, dtype=np.float64)


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


def _solve(ids: list[str], rows: list[int], cols: list[int], weights: np.ndarray, remaining: np.ndarray, two_sides: tuple[list[int], list[int]] | None) -> list[int]:
    """Indices of the chosen edges."""
    if not len(weights):
        return []
    if two_sides is not None and np.all(remaining <= 1):
        # the assignment fast path: a dense matrix over the sides, absent edges at 0 (never better than unpaired)
        left, right = two_sides
        li = {g: i for i, g in enumerate(left)}
        ri = {g: j for j, g in enumerate(right)}
        matrix = np.zeros((len(left), len(right)))
        edge_at = -np.ones((len(left), len(right)), dtype=np.int64)
        for e, (r, c) in enumerate(zip(rows, cols)):
            i, j = (li[r], ri[c]) if r in li else (li[c], ri[r])
            if remaining[r] and remaining[c]:
                matrix[i, j] = weights[e]
                edge_at[i, j] = e
        ri_, ci_ = linear_sum_assignment(matrix, maximize=True)
        return sorted(int(edge_at[i, j]) for i, j in zip(ri_, ci_) if edge_at[i, j] >= 0 and matrix[i, j] > 0)
    n, m = len(ids), len(weights)
    incidence = sparse.csr_matrix(
        (np.ones(2 * m), (np.concatenate([rows, cols]), np.concatenate([np.arange(m), np.arange(m)]))), shape=(n, m)
    )
    result = milp(
        c=-weights,
        constraints=[LinearConstraint(incidence, -np.inf, remaining)],
        integrality=np.ones(m),
        bounds=Bounds(0, 1),
    )
    if result.x is None:
        raise InvalidPairing(f"no pairing satisfies the constraints: {result.message}")
    return [int(e) for e in np.flatnonzero(result.x > 0.5)]


def _unique_pairs(pairs: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    seen: set[frozenset[str]] = set()
    out = []
    for a, b in pairs:
        if frozenset((a, b)) not in seen:
            seen.add(frozenset((a, b)))
            out.append((a, b))
    return tuple(out)


def optimal_pairing(scores: CohortScores, options: PairingOptions = PairingOptions()) -> Pairing:
    """The pairing with the highest total score that respects every option."""
    # the same agreed pair named twice (either way round) is one pair
    options = PairingOptions(options.capacity, _unique_pairs(options.locked), options.forbidden, options.min_score)
    locked = {frozenset(p) for p in options.locked}
    used = _check_locks(scores, options)
    ids, rows, cols, weights = _edges(scores, options, locked)
    position = {m: i for i, m in enumerate(ids)}
    remaining = np.array([max(options.capacity_of(m) - used.get(m, 0), 0) for m in ids], dtype=np.float64)
    two_sides = None
    if len(scores.sides) == 2:
        first, second = list(scores.sides.values())
        two_sides = ([position[m] for m in first], [position[m] for m in second])
    chosen = _solve(ids, rows, cols, weights, remaining, two_sides)

    pairs = [ProposedPair(*_ordered(scores, a, b), score=round(scores.score(a, b), 6), locked=True) for a, b in options.locked]
    pairs += [ProposedPair(*_ordered(scores, ids[rows[e]], ids[cols[e]]), score=round(float(weights[e]), 6)) for e in chosen]
    pairs.sort(key=lambda p: (-p.score, p.a, p.b))
    partners: dict[str, list[tuple[str, float]]] = {m: [] for m in ids}
    for p in pairs:
        partners[p.a].append((p.b, p.score))
        partners[p.b].append((p.a, p.score))
    unpaired = [m for m in ids if not partners[m]]
    regrets, best_options = _regrets(scores, options, ids, partners, unpaired)
    return Pairing(pairs=pairs, unpaired=unpaired, total=round(sum(p.score for p in pairs), 6), regrets=regrets, options=best_options)


def _ordered(scores: CohortScores, a: str, b: str) -> tuple[str, str]:
    """A pair with its member of the earlier side first, so output reads side by side."""
    order = {side: i for i, side in enumerate(scores.sides)}
    side = scores.side_of()
    return (a, b) if order[side[a]] <= order[side[b]] else (b, a)


def _candidates(scores: CohortScores, city: str) -> list[tuple[str, float]]:
    side = scores.side_of()
    out = []
    for other, other_side in side.items():
        if other_side != side[city]:
            out.append((other, scores.score(city, other)))
    return sorted(out, key=lambda x: (-x[1], x[0]))


def _regrets(scores, options: PairingOptions, ids, partners, unpaired) -> tuple[list[Regret], dict[str, list[tuple[str, float]]]]:
    forbidden = {frozenset(p) for p in options.forbidden}
    regrets, best_options = [], {}
    for city in ids:
        ranked = [(o, s) for o, s in _candidates(scores, city) if frozenset((city, o)) not in forbidden]
        if city in unpaired:
            best_options[city] = [(o, round(s, 6)) for o, s in ranked[:3]]
        mine = {o for o, _ in partners[city]}
        best = next(((o, s) for o, s in ranked if s >= options.min_score), None)
        if best is None or best[0] in mine:
            continue
        got = min((s for _, s in partners[city]), default=None)
        gap = best[1] - (got or 0.0)
        if got is not None and gap <= 0:
            continue
        theirs = partners[best[0]]
        room = options.capacity_of(best[0])
        if len(theirs) >= room and not any(o == city for o, _ in theirs) and (room == 0 or all(
            frozenset((best[0], o)) in {frozenset(p) for p in options.locked} for o, _ in theirs
        )):
            taken = ", ".join(o for o, _ in theirs)
            reason = f"{best[0]} has no room: capacity {room}" + (f", taken by agreed pairs with {taken}" if taken else "")
        elif theirs:
            names = ", ".join(f"{o} ({s:.3f})" for o, s in theirs)
            reason = f"{best[0]} was paired with {names}: that gives the cohort a higher total"
        else:
            reason = f"{best[0]} stays unpaired: pairing it with {city} would lower the cohort's total"
        regrets.append(Regret(city, best[0], round(best[1], 6), got, round(gap, 6), reason))
    return regrets, best_options


def top1_pairs(scores: CohortScores) -> set[frozenset[str]]:
    """What each city would get by simply taking its own first suggestion: the baseline."""
    return {frozenset((city, _candidates(scores, city)[0][0])) for city in scores.side_of() if _candidates(scores, city)}
