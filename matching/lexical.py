"""TF-IDF cosine between whole profile texts: rewards exact shared terms (acronyms, names, jargon)."""

import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

from matching.arrays import grown, offsets, ranges

__all__ = ["LexicalModel", "LexicalStatistics", "TermOverlap"]


class LexicalStatistics(NamedTuple):
    """A fitted TF-IDF space: its terms in column order, their idf, and how many texts it was fitted on."""

    terms: tuple[str, ...]
    idf: np.ndarray  # float32, one per term
    n_fitted: int

    def packed(self) -> bytes:
        """The statistics in bytes to store: a compressed archive of the terms (JSON), idf and count."""
        out = io.BytesIO()
        terms = np.frombuffer(json.dumps(list(self.terms)).encode("utf-8"), dtype=np.uint8)
        np.savez_compressed(out, terms=terms, idf=np.asarray(self.idf, dtype=np.float32), n_fitted=self.n_fitted)
        return out.getvalue()

    @classmethod
    def unpacked(cls, data: bytes) -> "LexicalStatistics":
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            terms = tuple(json.loads(archive["terms"].tobytes().decode("utf-8")))
            return cls(terms=terms, idf=archive["idf"], n_fitted=int(archive["n_fitted"]))


class TermOverlap(NamedTuple):
    """The terms pairs of (query, key) share: see `LexicalModel.overlap`."""

    pair: np.ndarray  # the pair of each shared term, ascending; a pair's terms in its key row's order
    term: np.ndarray  # the term's column
    row_weight: np.ndarray  # the term's weight in the key's row
    at: np.ndarray  # where the term's weight in the query is in `query_weights`
    query_weights: np.ndarray  # every query's weights, by (query, term)
    n_pairs: int


class LexicalModel:
    """A TF-IDF space fitted on the stored profiles; rows can be replaced as profiles change.

    New text is transformed with the fitted vocabulary and idf, so one write never re-weights every
    other profile; the batch job refits from scratch and stores its statistics with its run, which
    the live index then takes on (`with_statistics`), so both score a pair alike.

    The rows are one CSR matrix (`indptr_`, `indices_`, `data_`, with room to grow) and `row_of_`
    maps each key to its row, so a request slices the rows it needs instead of stacking one
    matrix per key. A changed profile gets a new row at the end; the rows no key points at are
    dropped once they outnumber the live ones.
    """

    def __init__(
        self, *, ngram_range: tuple[int, int] = (1, 2), min_df: int = 1, max_features: int | None = 200_000
    ) -> None:
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_features = max_features

    def fit(self, texts: Mapping[str, str]) -> "LexicalModel":
        """Fit the vocabulary and idf on these texts, and store their rows."""
        keys = list(texts)
        corpus = [texts[k] for k in keys] or [""]
        self.counter_ = self._counter()
        try:
            counts = self.counter_.fit_transform(corpus)
        except ValueError:  # an empty vocabulary: no profile has a content word yet
            # a vocabulary of one term no text can contain: every row is zero, every similarity 0
            self.counter_ = CountVectorizer(vocabulary=["\x00"], dtype=np.float32)
            counts = self.counter_.fit_transform(corpus)
        counts.sort_indices()
        self.weigher_ = TfidfTransformer(sublinear_tf=True).fit(counts)
        self.terms_ = self.counter_.get_feature_names_out()
        self.n_fitted_ = len(keys)
        self._store(sparse.csr_matrix(self.weigher_.transform(counts)[: len(keys)]), keys)
        return self

    def statistics(self) -> LexicalStatistics:
        """What the fit learned, to store and apply elsewhere (`with_statistics`)."""
        return LexicalStatistics(
            terms=tuple(str(t) for t in self.terms_), idf=self.weigher_.idf_.astype(np.float32), n_fitted=self.n_fitted_
        )

    def with_statistics(self, statistics: LexicalStatistics, texts: Mapping[str, str]) -> "LexicalModel":
        """Store these texts' rows in a space fitted elsewhere: every row is, to the bit, the row the
        fit that learned `statistics` gave the same text (both count, sort and weigh alike)."""
        self.counter_ = self._counter(vocabulary=list(statistics.terms))
        self.weigher_ = TfidfTransformer(sublinear_tf=True)
        self.weigher_.idf_ = np.asarray(statistics.idf, dtype=np.float32)
        self.weigher_.n_features_in_ = len(statistics.terms)
        self.terms_ = self.counter_.get_feature_names_out()
        self.n_fitted_ = statistics.n_fitted
        keys = list(texts)
        self._store(self._weighed([texts[k] for k in keys]), keys)
        return self

    def _counter(self, vocabulary: list[str] | None = None) -> CountVectorizer:
        return CountVectorizer(
            ngram_range=self.ngram_range,
            min_df=self.min_df,
            max_features=self.max_features if vocabulary is None else None,
            stop_words="english",
            vocabulary=vocabulary,
            dtype=np.float32,
        )

    def _weighed(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Texts' rows in the fitted space: term counts, sorted by term, weighed by sublinear tf × idf, l2-normed."""
        counts = self.counter_.transform(texts)
        counts.sort_indices()
        return sparse.csr_matrix(self.weigher_.transform(counts))

    def outgrown(self) -> bool:
        """True once the stored rows are twice the texts the vocabulary and idf were fitted on: a
        refit then costs amortised O(1) per write, and keeps live scores close to a fresh fit's
        (what the batch scores with)."""
        return len(self.row_of_) > 2 * max(self.n_fitted_, 8)

    def transform(self, text: str) -> sparse.csr_matrix:
        return self._weighed([text])

    def update(self, texts: Mapping[str, str]) -> None:
        if texts:
            self.put_rows(list(texts), self.rows_for(list(texts.values())))

    def rows_for(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """These texts' rows in the fitted space, stored nowhere: a write transforms its texts while
        others read the model, then stores the rows (`put_rows`) in a step of its own."""
        return self._weighed(texts)

    def put_rows(self, keys: Sequence[str], matrix: sparse.csr_matrix) -> None:
        """Store rows made by `rows_for` of this fitted model as these keys' rows."""
        self._append(matrix, keys)
        self._maybe_compact()

    def remove(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.row_of_.pop(key, None)
        self._maybe_compact()

    def similarity(self, query: sparse.csr_matrix, keys: Sequence[str]) -> np.ndarray:
        """Cosine of the query row with each key's row (0 for unknown keys)."""
        return self.pair_similarity(self.overlap(query, np.zeros(len(keys), dtype=np.int64), keys))

    def matrix(self, keys: Sequence[str]) -> sparse.csr_matrix:
        """The rows of the given keys stacked (zero rows for unknown keys)."""
        rows = np.fromiter((self.row_of_.get(k, -1) for k in keys), dtype=np.int64, count=len(keys))
        return self._rows(rows)

    def query_rows(self, keys: Sequence[str | None], texts: Sequence[str]) -> sparse.csr_matrix:
        """Each query's stored row, or its text transformed when it has none: stored text is not transformed again."""
        stored = [key is not None and key in self.row_of_ for key in keys]
        if all(stored):
            return self.matrix(keys)
        rows = [self.row(key) if known else self.transform(text) for key, text, known in zip(keys, texts, stored)]
        return sparse.vstack(rows, format="csr", dtype=np.float32)

    def shared_terms(self, query: sparse.csr_matrix, key: str, top: int = 5) -> list[str]:
        """The terms that contribute most to the cosine, for explanations."""
        return self.shared_terms_many(query, [key], top)[0]

    def shared_terms_many(self, query: sparse.csr_matrix, keys: Sequence[str], top: int = 5) -> list[list[str]]:
        """`shared_terms` of each key, the rows looked up in one pass (nothing for unknown keys)."""
        return self.pair_shared_terms(
            self.overlap(query, np.zeros(len(keys), dtype=np.int64), keys), np.arange(len(keys)), top
        )

    def overlap(self, queries: sparse.csr_matrix, query_of: np.ndarray, keys: Sequence[str]) -> TermOverlap:
        """The terms each pair (query row `query_of[p]`, `keys[p]`) shares, for a whole block in one pass.

        Both the cosine of a pair and its shared terms are made of these: the terms of a key's row
        found in its query, found for every pair at once by searching the block's (query, term) keys.
        """
        rows = self.matrix(keys)
        n_terms = np.int64(len(self.terms_))
        query_owner = np.repeat(np.arange(queries.shape[0], dtype=np.int64), np.diff(queries.indptr))
        query_terms = query_owner * n_terms + queries.indices  # fitted rows are not sorted by term: sort
        sort = np.argsort(query_terms)
        query_terms, query_weights = query_terms[sort], np.asarray(queries.data[sort], dtype=np.float32)
        # only entries whose term some query of the block has are searched for: a lookup, not a search
        in_some_query = np.zeros(len(self.terms_), dtype=bool)
        in_some_query[queries.indices] = True
        maybe = np.flatnonzero(in_some_query[rows.indices])
        pair = np.repeat(np.arange(len(keys), dtype=np.int64), np.diff(rows.indptr))[maybe]
        row_terms = np.asarray(query_of, dtype=np.int64)[pair] * n_terms + rows.indices[maybe]
        at = np.minimum(np.searchsorted(query_terms, row_terms), max(len(query_terms) - 1, 0))
        common = np.flatnonzero(query_terms[at] == row_terms) if len(query_terms) else np.zeros(0, dtype=np.int64)
        entries = maybe[common]
        return TermOverlap(
            pair[common], rows.indices[entries], rows.data[entries], at[common], query_weights, len(keys)
        )

    def pair_similarity(self, overlap: TermOverlap) -> np.ndarray:
        """The cosine of each pair of an overlap, to the bit what `similarity` of its query gives.

        A sparse product of the key rows with the query as a dense vector sums each row's terms in
        stored order, in float32; here each row keeps only its terms found in the query, in the
        same order, against their query weights: the same sum, less its zero products.
        """
        indptr = np.zeros(overlap.n_pairs + 1, dtype=np.int64)
        np.cumsum(np.bincount(overlap.pair, minlength=overlap.n_pairs), out=indptr[1:])
        shared = sparse.csr_matrix(
            (overlap.row_weight, overlap.at, indptr), shape=(overlap.n_pairs, max(len(overlap.query_weights), 1))
        )
        weights = overlap.query_weights if len(overlap.query_weights) else np.zeros(1, dtype=np.float32)
        return np.asarray(shared @ weights).astype(np.float32)

    def pair_shared_terms(self, overlap: TermOverlap, pairs: np.ndarray, top: int = 5) -> list[list[str]]:
        """The `top` terms that contribute most to the cosine of each pair given, strongest first."""
        out: dict[int, list[str]] = {int(p): [] for p in pairs}
        wanted = np.zeros(overlap.n_pairs, dtype=bool)
        wanted[pairs] = True
        take = np.flatnonzero(wanted[overlap.pair])
        owner, terms = overlap.pair[take], overlap.term[take]
        weight = overlap.query_weights[overlap.at[take]] * overlap.row_weight[take]
        order = np.lexsort((terms, -weight, owner))  # per pair: strongest first, ties by term
        rank = np.arange(len(order)) - np.searchsorted(owner, owner[order])
        for i in order[rank < top].tolist():
            out[int(owner[i])].append(str(self.terms_[terms[i]]))
        return [out[int(p)] for p in pairs]

    def row(self, key: str) -> sparse.csr_matrix | None:
        """A stored profile's row, so its own text need not be transformed again."""
        row = self.row_of_.get(key)
        return None if row is None else self._rows(np.array([row]))

    # ------------------------------------------------------------------ storage

    def _store(self, matrix: sparse.csr_matrix, keys: Sequence[str]) -> None:
        self.indptr_ = matrix.indptr.astype(np.int64)
        self.indices_ = matrix.indices.astype(np.int32)
        self.data_ = matrix.data.astype(np.float32)
        self.n_rows_ = matrix.shape[0]
        self.row_of_: dict[str, int] = {k: i for i, k in enumerate(keys)}

    def _append(self, matrix: sparse.csr_matrix, keys: Sequence[str]) -> None:
        """Write the rows after the last one, growing the arrays by doubling so appends stay cheap."""
        n, used = self.n_rows_, int(self.indptr_[self.n_rows_])
        rows, nnz = matrix.shape[0], matrix.nnz
        if n + rows + 1 > len(self.indptr_):
            self.indptr_ = grown(self.indptr_, max(2 * len(self.indptr_), n + rows + 1), n + 1)
        if used + nnz > len(self.indices_):
            capacity = max(2 * len(self.indices_), used + nnz)
            self.indices_ = grown(self.indices_, capacity, used)
            self.data_ = grown(self.data_, capacity, used)
        self.indptr_[n + 1 : n + rows + 1] = used + matrix.indptr[1:]
        self.indices_[used : used + nnz] = matrix.indices
        self.data_[used : used + nnz] = matrix.data
        self.n_rows_ = n + rows
        self.row_of_.update(zip(keys, range(n, n + rows)))

    def _maybe_compact(self) -> None:
        """Keep only the rows a key points at, once the others outnumber them."""
        if self.n_rows_ > 2 * len(self.row_of_) + 64:
            keys = list(self.row_of_)
            self._store(self._rows(np.fromiter(self.row_of_.values(), dtype=np.int64, count=len(keys))), keys)

    def _rows(self, rows: np.ndarray) -> sparse.csr_matrix:
        """A CSR matrix of the given rows, in order; a row of -1 gives a zero row."""
        known = rows >= 0
        starts = np.where(known, self.indptr_[rows], 0)
        lengths = np.where(known, self.indptr_[rows + 1] - starts, 0)
        flat = ranges(starts, lengths)
        return sparse.csr_matrix(
            (self.data_[flat], self.indices_[flat], offsets(lengths)), shape=(len(rows), len(self.terms_))
        )
