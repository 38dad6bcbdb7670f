"""The cascade that bounds a request's work above `exact_below_rows` candidate phrases.

1. *coded late interaction* over every allowed profile: each phrase is replaced by its nearest of
   `n_codes` k-means codes, so a query's cosine to any phrase is a lookup in a small table. The
   max of the forward coverage becomes a log-sum-exp and the backward coverage a plain sum, so
   both directions for all candidates are one sparse-matrix product. Keeps the shortlist.
2. *reduced late interaction*: `coverage_block` on cosines approximated in a `reduced_dim` PCA
   space, over the shortlist's phrases.
3. *exact rescoring* with full vectors, exactly as the exhaustive path scores: the best
   `rescore_size` by reduced score, then every other whose reduced score, raised by the largest
   shortfall from the exact score expected among them, could still reach the pool (up to 8× as many).

Only a profile-level shortlist followed by progressively more exact scoring reached 99 % exact
top-10 (PERFORMANCE.md). Profile summaries such as role centroids were measured first and predict
the score far worse: the score takes a max over phrases, and a centroid averages a multi-theme
profile's themes away.
"""

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
from scipy import sparse

from matching.arrays import offsets
from matching.index.exact import Scored, best, dense, exact_scores, padded
from matching.index.quantisers import Int8PCA, PhraseCodebook
from matching.index.storage import N_ROLES, PhraseStorage
from matching.scoring import DirectionRoles, ScoringParams, coverage_block, fuse_directions, needs_mask, serve_weights
from matching.types import PhraseRole

__all__ = ["Cascade", "CodedQuery", "RESCORE_SIZE", "rise_margin"]

RESCORE_SIZE = 100  # profiles the cascade rescores exactly at least
_RESCORE_REACH = 8  # and at most this many times as many
_SHARPNESS = 30.0  # log-sum-exp temperature: with ~10 phrases, within log(10)/30 ≈ 0.08 of the max
_REDUCED_PIECE = 2_048  # slots per piece of the reduced stage: its temporaries stay in cache
_MIN_RUN = 64  # consecutive slots worth reading in place rather than gathering
_STEP = 131_072  # rows per step when transforming the whole storage, to bound temporaries
_CODE_DIM = 64  # the k-means codes live in this prefix of the PCA space: cheap to fit, and enough


class CodedQuery(NamedTuple):
    """One request's lookup table for the coded late interaction (see `Cascade.code_table`)."""

    table: np.ndarray  # (roles · codes, columns)
    top: np.ndarray  # each query need's best weighted cosine to any code
    best: np.ndarray | None  # reciprocal: each code's best weighted cosine to a query phrase
    need_roles: np.ndarray  # 1.0 for the candidate's need roles
    fusion: str


class Cascade:
    """The cascade's fitted state over one storage (PCA, codes, each code's mean phrase) and its stages.

    Parameters are `PhraseIndex`'s of the same names. The storage's per-row columns `reduced`
    (int8 PCA rows) and `codes` (role · n_codes + nearest code) are added by `fit`.
    """

    def __init__(
        self,
        storage: PhraseStorage,
        *,
        shortlist_size: int,
        rescore_size: int,
        reduced_dim: int,
        n_codes: int,
        block_rows: int,
        fit_sample: int,
        random_state: int,
    ) -> None:
        self.storage = storage
        self.shortlist_size = shortlist_size
        self.rescore_size = rescore_size
        self.block_rows = block_rows
        self.fit_sample = fit_sample
        self.random_state = random_state
        self.pca_ = Int8PCA(reduced_dim)
        self.codebook_ = PhraseCodebook(n_codes)
        self.code_vectors_: np.ndarray | None = None  # (codes, dim) mean phrase of each code
        self.fitted_rows_ = 0
        self._ones = np.ones(0, dtype=np.float32)  # CSR values of the code counts, reused

    @property
    def fitted(self) -> bool:
        return self.code_vectors_ is not None

    # ------------------------------------------------------------------ fitting

    def fit(self) -> None:
        """Fit the PCA and the codes on a sample of live phrases, then encode every row."""
        storage = self.storage
        rows = storage.live_row_numbers()
        rng = np.random.default_rng(self.random_state)
        if len(rows) > self.fit_sample:
            rows = np.sort(rng.choice(rows, self.fit_sample, replace=False))
        reduced_sample = self.pca_.fit_transform(storage.vectors[rows])
        self.codebook_.fit(np.ascontiguousarray(reduced_sample[:, :_CODE_DIM]), rng)
        self.fitted_rows_ = storage.live_rows
        storage.derive("reduced", np.int8, self.pca_.components_.shape[1])
        storage.derive("codes", np.int32)
        self.encode_rows(0, storage.n_rows_)
        # a code stands for the mean of its phrases, the best single vector for their dot products
        n_codes = len(self.codebook_)
        sums = np.zeros((n_codes, storage.dim), dtype=np.float64)
        counts = np.zeros(n_codes, dtype=np.int64)
        codes = storage.rows_["codes"]
        for a in range(0, storage.n_rows_, _STEP):
            b = min(a + _STEP, storage.n_rows_)
            code = codes[a:b] % n_codes
            member = sparse.csr_matrix((np.ones(b - a, np.float32), (code, np.arange(b - a))), shape=(n_codes, b - a))
            sums += member @ storage.vectors[a:b]
            counts += np.bincount(code, minlength=n_codes)
        unused = self.codebook_.centres_ @ self.pca_.components_[:, :_CODE_DIM].T  # a code nobody uses: its centre
        self.code_vectors_ = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], unused).astype(
            np.float32
        )

    def encode_rows(self, lo: int, hi: int) -> None:
        """Reduce rows [lo, hi) and give each its code (role · n_codes + nearest centre)."""
        storage = self.storage
        n_codes = len(self.codebook_)
        reduced_rows, codes = storage.rows_["reduced"], storage.rows_["codes"]
        for a in range(lo, hi, _STEP):
            b = min(a + _STEP, hi)
            reduced = self.pca_.project(storage.vectors[a:b])
            reduced_rows[a:b] = self.pca_.quantised(reduced)
            nearest = self.codebook_.predict(reduced[:, :_CODE_DIM])
            codes[a:b] = storage.roles[a:b].astype(np.int32) * n_codes + nearest

    def codes_of(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The slots' rows' codes (role · n_codes + code) and roles one after another, and each
        slot's row count."""
        rows, lengths = self.storage.rows_of(slots)
        return self.storage.rows_["codes"][rows], self.storage.roles[rows], lengths

    # ------------------------------------------------------------------ the stages

    def rescore_first(self, k: int) -> int:
        """How many the last stage rescores exactly before its margin (`rescored`) for a top-k.

        Deeper ranks are closer together, so a larger k needs wider stages (measured: k = 50).
        """
        return max(self.rescore_size, 6 * k)

    def shortlist_depth(self, k: int) -> int:
        """How many the coded stage keeps for a top-k."""
        return max(self.shortlist_size, 50 * k, 2 * self.rescore_first(k))

    def shortlisted(
        self,
        slots: np.ndarray,
        coded: np.ndarray | None,
        shortlist: int,
        q: np.ndarray,
        q_roles: np.ndarray,
        roles: DirectionRoles,
        params: ScoringParams,
        k: int,
        pool: int,
    ) -> list[Scored]:
        """The cascade after its coded stage: the best `shortlist` of `slots` (ascending) by coded
        score, by reduced score the candidates to rescore, and the best max(k, pool) exactly."""
        if len(slots) == 0:
            return []
        rescore = self.rescore_first(k)
        keep = max(k, pool)
        if coded is not None and len(slots) > shortlist:
            slots = np.sort(slots[np.argpartition(coded, len(slots) - shortlist)[-shortlist:]])
        if len(slots) > rescore:
            # in pieces, so that each piece's temporaries stay in cache
            reduced = np.concatenate(
                [
                    self.reduced_scores(slots[i : i + _REDUCED_PIECE], q, q_roles, roles, params)
                    for i in range(0, len(slots), _REDUCED_PIECE)
                ]
            )
            return self.rescored(slots, reduced, q, q_roles, roles, params, max(rescore, keep), keep)
        fwd, bwd = self._exact(q, q_roles, slots, roles, params)
        return best(self.storage, slots, fwd, bwd, params, keep)

    def _exact(self, q, q_roles, slots, roles, params) -> tuple[np.ndarray, np.ndarray | None]:
        return exact_scores(self.storage, q, q_roles, slots, roles, params, self.block_rows)

    def rescored(
        self,
        slots: np.ndarray,
        reduced: np.ndarray,
        q: np.ndarray,
        q_roles: np.ndarray,
        roles: DirectionRoles,
        params: ScoringParams,
        first: int,
        keep: int,
    ) -> list[Scored]:
        """The best `keep` of `slots` (ascending) by exact score, scoring exactly only what the
        reduced scores cannot rule out.

        The best `first` by reduced score are scored exactly, which shows how far the reduced
        score falls short of the exact one: a mean and a spread. Every other candidate whose
        reduced score plus the largest shortfall expected among that many (mean + spread ·
        √(2 ln n), the expected maximum of n normal draws) reaches the `keep`-th exact score so
        far is scored exactly too, the best first, up to `_RESCORE_REACH` × `first` in all: near
        ties are rescored deeper, clear leads no deeper. The largest shortfall seen among the
        first is too small a margin for the many that remain (`benchmarks/suggestions.py`
        measures the agreement this buys, organisations asking for organisations the hardest).
        """
        order = np.argsort(-reduced, kind="stable")
        head = np.sort(order[:first])
        fwd, bwd = self._exact(q, q_roles, slots[head], roles, params)
        scores = dense(fwd, bwd, params)
        rest = order[first:]
        if len(scores) >= keep and len(rest):
            kth = np.partition(scores, len(scores) - keep)[len(scores) - keep]
            shortfall = scores - reduced[head]
            margin = rise_margin(shortfall, len(rest))
            extra = np.sort(rest[reduced[rest] + margin >= kth][: (_RESCORE_REACH - 1) * first])
            if len(extra):
                more_fwd, more_bwd = self._exact(q, q_roles, slots[extra], roles, params)
                head = np.concatenate([head, extra])
                fwd = np.concatenate([fwd, more_fwd])
                bwd = None if bwd is None else np.concatenate([bwd, more_bwd])
        return best(self.storage, slots[head], fwd, bwd, params, keep)

    def code_table(
        self, q: np.ndarray, q_roles: np.ndarray, roles: DirectionRoles, params: ScoringParams
    ) -> CodedQuery:
        """What each (role, code) phrase contributes to a candidate's sums in `coded_scores`.

        Table columns: per query need, exp(sharpness · (weighted cosine − that need's best)), whose
        sum over a candidate's phrases is a log-sum-exp stand-in for the max of forward coverage;
        then, when reciprocal, the best weighted cosine of any query phrase to the code if the
        phrase is one of the candidate's needs, else 0 (its sum: backward coverage before the mean).
        """
        n_codes = len(self.codebook_)
        cosines = self.code_vectors_ @ padded(q)  # (codes, q padded)
        need = np.flatnonzero(needs_mask(q_roles, roles.query_needs))
        need_cosines = cosines[:, need]
        serve = serve_weights(np.arange(N_ROLES, dtype=np.int8), roles.target_serves, params)
        # each need's best weighted cosine, as the shift that keeps exp from overflowing
        top = np.maximum(need_cosines.max(axis=0) * serve.max(), 0.0)
        table = np.zeros((N_ROLES * n_codes, len(need) + roles.reciprocal), dtype=np.float32)
        for role in range(N_ROLES):
            # weight 0 still contributes exp(−top): the zero an unserving phrase gives in coverage_block
            table[role * n_codes : (role + 1) * n_codes, : len(need)] = np.exp(
                _SHARPNESS * (serve[role] * need_cosines - top)
            )
        best_cosine = None
        need_roles = _role_mask(roles.target_needs)
        if roles.reciprocal:
            q_serve = serve_weights(q_roles, roles.query_serves, params)
            best_cosine = np.zeros(n_codes, dtype=np.float32)  # column by column: a max over 10 is slow in numpy
            for j in np.flatnonzero(q_serve > 0):
                np.maximum(best_cosine, cosines[:, j] * q_serve[j], out=best_cosine)
            table[:, -1] = np.kron(need_roles, best_cosine)
        return CodedQuery(table, top.astype(np.float32), best_cosine, need_roles, params.fusion)

    def coded_scores(self, slots: np.ndarray, coded: CodedQuery) -> np.ndarray:
        """Approximate dense score of each slot, with its phrases replaced by their codes.

        Cosines are looked up per code, so each coverage becomes a sum over the candidate's
        phrases (see `code_table`): a product of the slots' phrase-by-code count matrix with the
        table. Weights, fallbacks and the zero floor follow `coverage_block`.
        """
        storage = self.storage
        top = coded.top
        sums = np.empty((len(slots), coded.table.shape[1]), dtype=np.float32)
        for part, counts in self._code_counts(slots):
            sums[part] = counts @ coded.table
        n_need = len(top)
        backward_sum = sums[:, n_need].copy() if coded.best is not None else None
        with np.errstate(divide="ignore", invalid="ignore"):
            np.log(sums, out=sums)  # on the whole contiguous array: numpy's fast path for log
        # column by column: elementwise work on an (n, 4) view is several times slower in numpy
        fwd = np.zeros(len(slots), dtype=np.float32)
        per_need = np.empty(len(slots), dtype=np.float32)
        for i in range(n_need):
            np.multiply(sums[:, i], 1 / _SHARPNESS, out=per_need)
            per_need += top[i]
            np.maximum(per_need, 0.0, out=per_need)
            fwd += per_need
        fwd *= 1 / n_need
        if backward_sum is None:
            return fwd
        need_count = np.zeros(len(slots), dtype=np.float32)
        for role in np.flatnonzero(coded.need_roles):
            need_count += storage.role_counts_[slots, role]
        bwd = backward_sum / np.maximum(need_count, 1.0)
        none = np.flatnonzero(need_count == 0)
        if len(none):
            # a candidate with no phrase in a need role is judged on all of them, as in coverage_block
            any_role = np.tile(coded.best, N_ROLES)[:, None].astype(np.float32)
            for part, counts in self._code_counts(slots[none]):
                bwd[none[part]] = (counts @ any_role)[:, 0] / storage.length_[slots[none[part]]]
        np.maximum(bwd, 0.0, out=bwd)
        return fuse_directions(fwd, bwd, coded.fusion)

    def _code_counts(self, slots: np.ndarray) -> Iterator[tuple[slice | np.ndarray, sparse.csr_matrix]]:
        """Yield (positions in `slots`, their slot × role·code phrase counts as CSR).

        A long run of consecutive slots has consecutive rows, so its codes are read in place
        (bulk_load orders slots by kind and bloc, so most candidates come in a few such runs);
        the scattered rest is gathered once.
        """
        storage = self.storage
        codes = storage.rows_["codes"]
        width = N_ROLES * len(self.codebook_)
        bounds = np.concatenate(([0], np.flatnonzero(np.diff(slots) != 1) + 1, [len(slots)]))
        run_lengths = np.diff(bounds)
        for a, b in zip(bounds[:-1][run_lengths >= _MIN_RUN], bounds[1:][run_lengths >= _MIN_RUN]):
            r0 = int(storage.start_[slots[a]])
            r1 = int(storage.start_[slots[b - 1]] + storage.length_[slots[b - 1]])
            indptr = np.empty(b - a + 1, dtype=np.int32)
            indptr[:-1] = storage.start_[slots[a] : slots[b - 1] + 1] - r0
            indptr[-1] = r1 - r0
            yield slice(a, b), self._csr(codes[r0:r1], indptr, (b - a, width))
        scattered = np.flatnonzero(np.repeat(run_lengths < _MIN_RUN, run_lengths))
        if len(scattered):
            rows, lengths = storage.rows_of(slots[scattered])
            indptr = np.zeros(len(scattered) + 1, dtype=np.int32)
            np.cumsum(lengths, out=indptr[1:])
            yield scattered, self._csr(codes[rows], indptr, (len(scattered), width))

    def _csr(self, codes: np.ndarray, indptr: np.ndarray, shape: tuple[int, int]) -> sparse.csr_matrix:
        ones = self._ones  # read once: a concurrent read may replace it with a shorter one
        if len(ones) < len(codes):
            ones = self._ones = np.ones(2 * len(codes), dtype=np.float32)
        return sparse.csr_matrix((ones[: len(codes)], codes, indptr), shape=shape)

    def reduced_scores(
        self,
        slots: np.ndarray,
        q: np.ndarray,
        q_roles: np.ndarray,
        roles: DirectionRoles,
        params: ScoringParams,
    ) -> np.ndarray:
        """Dense score from `coverage_block` on cosines approximated in the PCA space."""
        storage = self.storage
        rows, lengths = storage.rows_of(slots)
        reduced_query = padded(self.pca_.scaled_query(q))  # rows stay as stored
        # (rows × d) @ (d × q) is OpenBLAS's fast shape; coverage_block wants (q, rows) C-ordered
        reduced_rows = storage.rows_["reduced"].take(rows, axis=0).astype(np.float32)
        sims = np.ascontiguousarray((reduced_rows @ reduced_query).T[: len(q)])
        fwd, bwd = coverage_block(sims, q_roles, storage.roles.take(rows), offsets(lengths), roles, params)
        return fuse_directions(fwd, bwd, params.fusion) if bwd is not None else fwd


def _role_mask(wanted: tuple[PhraseRole, ...]) -> np.ndarray:
    """1.0 for each wanted role code, else 0.0."""
    mask = np.zeros(N_ROLES, dtype=np.float32)
    mask[list(wanted)] = 1.0
    return mask


def rise_margin(rise: np.ndarray, n: int) -> float:
    """How far above its approximate score any of `n` unseen candidates may score exactly, from the
    `rise` (exact minus approximate) of candidates scored both ways: its mean plus its spread times
    √(2 ln n), the expected maximum of n normal draws."""
    return float(rise.mean() + rise.std() * np.sqrt(2 * np.log(max(n, 2))))
