"""Variable-length runs stored back to back in flat arrays: the layout of the index and the TF-IDF rows.

Each profile's phrases (or its TF-IDF terms) are one run of consecutive entries; these helpers
address runs, grow the arrays by doubling and compact them in place.
"""

import numpy as np

__all__ = ["ranges", "offsets", "grown", "move_down"]


def ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenate arange(start, start + length) over the pairs, vectorised."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    before = np.cumsum(lengths) - lengths
    return np.arange(total, dtype=np.int64) + np.repeat(starts.astype(np.int64) - before, lengths)


def offsets(lengths: np.ndarray) -> np.ndarray:
    """[0, l0, l0 + l1, …]: where each candidate's phrases start, then the total."""
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def grown(a: np.ndarray, capacity: int, used: int) -> np.ndarray:
    """A larger copy of `a` keeping its first `used` entries; the rest is not yet touched memory."""
    out = (
        np.zeros((capacity,) + a.shape[1:], dtype=a.dtype)
        if a.dtype == bool
        else np.empty((capacity,) + a.shape[1:], dtype=a.dtype)
    )
    out[:used] = a[:used]
    return out


def move_down(a: np.ndarray, index: np.ndarray, chunk: int = 16_384) -> None:
    """Set a[:len(index)] = a[index] in place, for increasing `index`, one chunk at a time.

    Safe because index[i] >= i: a chunk reads only at or after where it writes, which earlier
    chunks have not overwritten; the only temporary is one chunk.
    """
    for lo in range(0, len(index), chunk):
        hi = min(lo + chunk, len(index))
        a[lo:hi] = a[index[lo:hi]]
