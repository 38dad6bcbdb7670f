"""The cascade's trained quantisers: an uncentred PCA stored as int8, and k-means phrase codes.

Both are fitted on a sample of the stored phrases and then transform every row; their learned
state is in trailing-underscore attributes.
"""

import numpy as np
from scipy import sparse

__all__ = ["Int8PCA", "PhraseCodebook"]


class Int8PCA:
    """Phrase vectors projected on their top `width` principal directions, uncentred so that dot
    products in the reduced space approximate cosines, and stored as int8 per dimension (half the
    bytes of float16 and far cheaper to widen to float32).

    The directions are the top eigenvectors of the sample's Gram matrix (d × d, float64): the
    same components as scikit-learn's `TruncatedSVD` (which also does not centre) in a fraction
    of its time at d = 384.
    """

    def __init__(self, width: int) -> None:
        self.width = width
        self.components_: np.ndarray | None = None  # (dim, width)
        self.scale_: np.ndarray | None = None  # (width,): one int8 step per dimension

    def fit_transform(self, sample: np.ndarray) -> np.ndarray:
        """Fit on the sample (rows of unit vectors); return its float32 projection."""
        _, eigenvectors = np.linalg.eigh((sample.T @ sample).astype(np.float64))
        width = min(self.width, sample.shape[1])
        self.components_ = np.ascontiguousarray(eigenvectors[:, ::-1][:, :width], dtype=np.float32)
        reduced = sample @ self.components_
        self.scale_ = np.maximum(np.abs(reduced).max(axis=0), 1e-6).astype(np.float32) / 127
        return reduced

    def project(self, x: np.ndarray) -> np.ndarray:
        """Float32 projection on the components."""
        return x @ self.components_

    def quantised(self, reduced: np.ndarray) -> np.ndarray:
        """A projection rounded to int8 steps."""
        return np.clip(np.rint(reduced / self.scale_), -127, 127)

    def scaled_query(self, q: np.ndarray) -> np.ndarray:
        """A query projected and multiplied by the steps, so that its dot product with stored int8
        rows approximates the cosine."""
        return q @ self.components_ * self.scale_


class PhraseCodebook:
    """Lloyd's k-means on the reduced phrases: each phrase is replaced by its nearest of the codes."""

    def __init__(self, n_codes: int, iterations: int = 8) -> None:
        self.n_codes = n_codes
        self.iterations = iterations
        self.centres_: np.ndarray | None = None  # (codes, width)
        self.nearest_centre_: np.ndarray | None = None  # the centres as `nearest` multiplies by them

    def fit(self, x: np.ndarray, rng: np.random.Generator) -> "PhraseCodebook":
        """Start from k distinct sample points; a centre left empty stays where it was."""
        k = min(self.n_codes, max(1, len(x) // 8))
        centres = x[rng.choice(len(x), k, replace=False)].copy()
        for _ in range(self.iterations):
            nearest = _nearest(x, _nearest_centre(centres))
            member = sparse.csr_matrix((np.ones(len(x), np.float32), (nearest, np.arange(len(x)))), shape=(k, len(x)))
            counts = np.bincount(nearest, minlength=k)
            sums = member @ x
            filled = counts > 0
            centres[filled] = sums[filled] / counts[filled, None]
        self.centres_ = centres
        self.nearest_centre_ = _nearest_centre(centres)
        return self

    def __len__(self) -> int:
        return len(self.centres_)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Index of the nearest centre of each row (int32)."""
        return _nearest(x, self.nearest_centre_)


def _nearest_centre(centres: np.ndarray) -> np.ndarray:
    """The matrix that `_nearest` multiplies by: centres, and −|c|²/2 against a column of ones."""
    return np.ascontiguousarray(
        np.concatenate([centres, -0.5 * (centres * centres).sum(axis=1, keepdims=True)], axis=1).T, dtype=np.float32
    )


def _nearest(x: np.ndarray, nearest_centre: np.ndarray, chunk: int = 16_384) -> np.ndarray:
    """Index of the nearest centre (Euclidean) of each row: argmax of x·c − |c|²/2."""
    out = np.empty(len(x), dtype=np.int32)
    block = np.ones((min(chunk, len(x)), x.shape[1] + 1), dtype=np.float32)
    for a in range(0, len(x), chunk):
        b = min(a + chunk, len(x))
        block[: b - a, :-1] = x[a:b]
        out[a:b] = np.argmax(block[: b - a] @ nearest_centre, axis=1)
    return out
