"""TF-IDF cosine between whole profile texts: rewards exact shared terms (acronyms, names, jargon)."""

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

__all__ = ["LexicalModel"]


class LexicalModel:
    """A TF-IDF space fitted on the stored profiles; rows can be replaced as profiles change.

    New text is transformed with the fitted vocabulary and idf, so one write never re-weights every
    other profile; the batch job refits from scratch.

    The rows are one CSR matrix (`indptr_`, `indices_`, `data_`, with room to grow) and `row_of_`
    maps each key to its row, so a request slices the rows it needs instead of stacking one
    matrix per key. A changed profile gets a new row at the end; the rows no key points at are
    dropped once they outnumber the live ones.
    """

    def __init__(self, *, ngram_range: tuple[int, int] = (1, 2), min_df: int = 1, max_features: int | None = 200_000) -> None:
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_features = max_features

    def fit(self, texts: Mapping[str, str]) -> "LexicalModel":
        self.vectorizer_ = TfidfVectorizer(
            ngram_range=self.ngram_range,
            min_df=self.min_df,
            max_features=self.max_features,
            stop_words="english",
            sublinear_tf=True,
            dtype=np.float32,
        )
        keys = list(texts)
        corpus = [texts[k] for k in keys] or [""]
        try:
            matrix = self.vectorizer_.fit_transform(corpus)
        except ValueError:  # an empty vocabulary: no profile has a content word yet
            # a vocabulary of one term no text can contain: every row is zero, every similarity 0
            self.vectorizer_ = TfidfVectorizer(vocabulary=["\x00"], dtype=np.float32)
            matrix = self.vectorizer_.fit_transform(corpus)
        self.terms_ = self.vectorizer_.get_feature_names_out()
        self._store(sparse.csr_matrix(matrix[: len(keys)]), keys)
        return self

    def transform(self, text: str) -> sparse.csr_matrix:
        return self.vectorizer_.transform([text])

    def update(self, texts: Mapping[str, str]) -> None:
        if not texts:
            return
        keys = list(texts)
        matrix = sparse.csr_matrix(self.vectorizer_.transform([texts[k] for k in keys]))
        self._append(matrix, keys)
        self._maybe_compact()

    def remove(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.row_of_.pop(key, None)
        self._maybe_compact()

    def similarity(self, query: sparse.csr_matrix, keys: Sequence[str]) -> np.ndarray:
        """Cosine of the query row with each key's row (0 for unknown keys)."""
        if not keys:
            return np.zeros(0, dtype=np.float32)
        # against the query as a dense vector each row's sum runs over its stored terms in the same
        # order, so to the same float32, as a sparse product does; it skips converting the query
        return np.asarray(self.matrix(keys) @ query.toarray().ravel()).astype(np.float32)

    def matrix(self, keys: Sequence[str]) -> sparse.csr_matrix:
        """The rows of the given keys stacked (zero rows for unknown keys)."""
        rows = np.fromiter((self.row_of_.get(k, -1) for k in keys), dtype=np.int64, count=len(keys))
        return self._rows(rows)

    def shared_terms(self, query: sparse.csr_matrix, key: str, top: int = 5) -> list[str]:
        """The terms that contribute most to the cosine, for explanations."""
        return self.shared_terms_many(query, [key], top)[0]

    def shared_terms_many(self, query: sparse.csr_matrix, keys: Sequence[str], top: int = 5) -> list[list[str]]:
        """`shared_terms` of each key, the rows looked up in one pass (nothing for unknown keys)."""
        rows = self.matrix(keys)
        out: list[list[str]] = [[] for _ in keys]
        if query.nnz == 0 or rows.nnz == 0:
            return out
        # the terms of a row found in the query are those of the sparse product, each weighing the
        # product of its two entries (fitted rows are not sorted by term: the query is, here)
        sort = np.argsort(query.indices)
        q_terms, q_weights = query.indices[sort], query.data[sort]
        at = np.minimum(np.searchsorted(q_terms, rows.indices), len(q_terms) - 1)
        common = np.flatnonzero(q_terms[at] == rows.indices)
        owner = np.repeat(np.arange(len(keys)), np.diff(rows.indptr))[common]
        weight = q_weights[at[common]] * rows.data[common]
        terms = rows.indices[common]
        order = np.lexsort((terms, -weight, owner))  # per key: strongest first, ties by term
        rank = np.arange(len(order)) - np.searchsorted(owner, owner[order])
        for i in order[rank < top]:
            out[owner[i]].append(str(self.terms_[terms[i]]))
        return out

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
            self.indptr_ = _grown(self.indptr_, max(2 * len(self.indptr_), n + rows + 1), n + 1)
        if used + nnz > len(self.indices_):
            capacity = max(2 * len(self.indices_), used + nnz)
            self.indices_ = _grown(self.indices_, capacity, used)
            self.data_ = _grown(self.data_, capacity, used)
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
        indptr = np.concatenate(([0], np.cumsum(lengths)))
        flat = np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1])
        return sparse.csr_matrix((self.data_[flat], self.indices_[flat], indptr), shape=(len(rows), len(self.terms_)))


def _grown(a: np.ndarray, capacity: int, used: int) -> np.ndarray:
    """A larger copy of `a` keeping its first `used` entries."""
    out = np.empty(capacity, dtype=a.dtype)
    out[:used] = a[:used]
    return out
