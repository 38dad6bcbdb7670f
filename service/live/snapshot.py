"""Some stored profiles' share of the live recommender, copied out under its lock and scored without it.

Pairing a cohort scores every member with every other and then solves an assignment (up to a
minute at 5,000 × 5,000). On a snapshot the live index's lock is held only while the members'
rows are copied, so suggestion requests and profile writes go on while the cohort is solved.
"""

import copy
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import sparse

from matching.features import Place
from matching.index import PhraseIndex
from matching.lexical import LexicalModel
from matching.popularity import UsualScores
from matching.recommend import Recommender
from matching.types import ProfileMeta
from matching.vectors import ProfileVectors
from service.live.profiles_text import ProfileText

__all__ = ["Snapshot", "Copies", "copies_of", "snapshot_of"]


@dataclass(frozen=True)
class Snapshot:
    """A recommender over some stored profiles, with their texts, that shares nothing a write changes.

    Among its own profiles it scores exactly as the live recommender did when the copies were
    taken: the same phrase vectors, TF-IDF rows, vocabulary and idf, places, usual scores (the
    popularity correction's reference, fitted on the whole live index), ranker and tagger.
    """

    recommender: Recommender
    texts: dict[str, ProfileText]


@dataclass(frozen=True)
class Copies:
    """What a snapshot is built from: copies of the profiles' rows, and the live recommender's parts
    that no write changes in place (ranker, tagger, params; a refit makes a new TF-IDF model)."""

    source: Recommender
    entries: list[tuple[str, ProfileVectors, ProfileMeta]]
    lexical: LexicalModel  # a shallow copy: its fitted vocabulary and idf only are used
    lexical_rows: sparse.csr_matrix
    usual: UsualScores | None  # only where a learned ranker reads it
    places: dict[str, Place]
    texts: dict[str, ProfileText]


def copies_of(recommender: Recommender, texts: dict[str, ProfileText], keys: Sequence[str]) -> Copies:
    """Copy what a snapshot of `keys` needs (those in the index); the caller holds the live index's lock.

    Costs a copy of these profiles' rows, never a pass over the whole index.
    """
    keys = [k for k in dict.fromkeys(keys) if k in recommender.index]
    usual = None
    if recommender.ranker is not None and recommender.ranker.models:  # fitted with the recommender, never here
        live = recommender.context.usual
        usual = UsualScores(sample_size=live.sample_size)
        usual.askers_ = {kind: list(askers) for kind, askers in live.askers_.items()}
        usual.usual_ = {d: {k: table[k] for k in keys if k in table} for d, table in live.usual_.items()}
    places = recommender.places
    return Copies(
        source=recommender,
        entries=[(k, recommender.index.vectors_of(k), recommender.index.meta_of(k)) for k in keys],
        lexical=copy.copy(recommender.lexical),
        lexical_rows=recommender.lexical.matrix(keys),
        usual=usual,
        places={k: places[k] for k in keys if k in places},
        texts={k: texts[k] for k in keys if k in texts},
    )


def snapshot_of(copies: Copies) -> Snapshot:
    """The snapshot, built from copies alone: call it without the lock."""
    source = copies.source
    # exact scores only: a cohort is scored pair by pair, never retrieved through the cascade
    index = PhraseIndex(dim=source.index.dim, exact_below_rows=sys.maxsize).bulk_load(copies.entries)
    lexical = copies.lexical
    lexical._store(copies.lexical_rows, [key for key, _, _ in copies.entries])  # its own rows, not the live ones
    recommender = Recommender(index, lexical, source.tagger, source.params, places=copies.places)
    if copies.usual is not None:
        # the live usual scores, not a fit on these few profiles: a snapshot scores as the live index does
        recommender.context._usual = copies.usual
    recommender.ranker = source.ranker  # set after construction, which would fit the usual scores
    return Snapshot(recommender=recommender, texts=copies.texts)
