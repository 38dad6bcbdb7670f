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
        self.rows_: dict[str, sparse.csr_matrix] = {k: matrix[i] for i, k in enumerate(keys)}
        self.terms_ = self.vectorizer_.get_feature_names_out()
        return self

    def transform(self, text: str) -> sparse.csr_matrix:
        return self.vectorizer_.transform([text])

    def update(self, texts: Mapping[str, str]) -> None:
        if not texts:
            return
        keys = list(texts)
        matrix = self.vectorizer_.transform([texts[k] for k in keys])
        for i, key in enumerate(keys):
            self.rows_[key] = matrix[i]

    def remove(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.rows_.pop(key, None)

    def similarity(self, query: sparse.csr_matrix, keys: Sequence[str]) -> np.ndarray:
        """Cosine of the query row with each key's row (0 for unknown keys)."""
        if not keys:
            return np.zeros(0, dtype=np.float32)
        empty = sparse.csr_matrix((1, query.shape[1]), dtype=np.float32)
        block = sparse.vstack([self.rows_.get(k, empty) for k in keys], format="csr")
        return np.asarray((block @ query.T).toarray()).ravel().astype(np.float32)

    def matrix(self, keys: Sequence[str]) -> sparse.csr_matrix:
        """The rows of the given keys stacked (zero rows for unknown keys)."""
        width = len(self.vectorizer_.vocabulary_)
        empty = sparse.csr_matrix((1, width), dtype=np.float32)
        return sparse.vstack([self.rows_.get(k, empty) for k in keys], format="csr")

    def shared_terms(self, query: sparse.csr_matrix, key: str, top: int = 5) -> list[str]:
        """The terms that contribute most to the cosine, for explanations."""
        row = self.rows_.get(key)
        if row is None or query.nnz == 0 or row.nnz == 0:
            return []
        # both rows have sorted, unique column indices: intersecting them is the sparse product
        common, qi, ri = np.intersect1d(query.indices, row.indices, assume_unique=True, return_indices=True)
        if len(common) == 0:
            return []
        weight = query.data[qi] * row.data[ri]
        order = np.lexsort((common, -weight))[:top]
        return [str(self.terms_[common[i]]) for i in order]

    def row(self, key: str) -> sparse.csr_matrix | None:
        """A stored profile's row, so its own text need not be transformed again."""
        return self.rows_.get(key)
