"""Recommenders over a fixed set of profiles, built from their texts: what the live index starts from,
and what evaluation and the batch job score with. Cache misses only are encoded, in chunks.
"""

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from embeddings import CachedEncoder
from matching.index import PhraseIndex
from matching.lexical import LexicalModel, LexicalStatistics
from matching.ranker import LearnedRanker
from matching.recommend import Recommender
from matching.scoring import ScoringParams
from matching.themes import Theme, ThemeTagger
from matching.types import ProfileMeta
from matching.vectors import ProfileVectors
from service.live.places import place_of
from service.live.profiles_text import ProfileText, many_profile_vectors

__all__ = [
    "build_recommender",
    "load_ranker",
    "ranker_id",
    "load_tagger",
    "load_themes",
    "profile_entries",
    "recommender_over",
    "vector_width",
]

_BATCH = 2000  # profiles encoded (and reported on) per chunk


def load_themes(path: Path) -> list[Theme]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return [Theme(id=t["id"], label=t["label"], definition=t["definition"]) for t in raw["themes"]]


def load_tagger(path: Path, encoder: CachedEncoder) -> ThemeTagger | None:
    if not path.exists():
        return None
    themes = load_themes(path)
    return ThemeTagger(themes, encoder.encode([t.text for t in themes]))


def ranker_id(path: Path | None) -> str:
    """What scores suggestions, as a run records it: "handset", or "learned:" and the weights file's digest."""
    if path is None or not path.exists():
        return "handset"
    return f"learned:{hashlib.sha256(path.read_bytes()).hexdigest()[:12]}"


def load_ranker(path: Path | None) -> LearnedRanker | None:
    """The shipped learned ranker (`twinning train` writes it); None, the hand-set score, without one."""
    if path is None or not path.exists():
        return None
    return LearnedRanker.from_json(json.loads(path.read_text(encoding="utf-8")))


def build_recommender(
    profiles: list[ProfileText],
    encoder: CachedEncoder,
    tagger: ThemeTagger | None,
    params: ScoringParams = ScoringParams(),
    on_progress: Callable[[int, int], None] | None = None,
    ranker: LearnedRanker | None = None,
    lexicon: LexicalStatistics | None = None,
) -> Recommender:
    """A recommender over a fixed set of profiles: what evaluation and the batch job score with."""
    entries = profile_entries(profiles, encoder, on_progress)
    return recommender_over(profiles, entries, vector_width(entries, encoder), tagger, params, ranker, lexicon)


def profile_entries(
    profiles: list[ProfileText], encoder: CachedEncoder, on_progress: Callable[[int, int], None] | None = None
) -> list[tuple[str, ProfileVectors, ProfileMeta]]:
    """What the index is loaded from: each profile's vectors, encoded in chunks (cache misses only),
    reporting (done, total) after each."""
    entries = []
    for start in range(0, len(profiles), _BATCH):
        chunk = profiles[start : start + _BATCH]
        entries += [(p.id, v, p.meta) for p, v in zip(chunk, many_profile_vectors(encoder, chunk))]
        if on_progress:
            on_progress(len(entries), len(profiles))
    return entries


def vector_width(entries: list[tuple[str, ProfileVectors, ProfileMeta]], encoder: CachedEncoder) -> int:
    """The width of the vectors in hand: asking the encoder would load its weights even when all is cached."""
    return entries[0][1].vectors.shape[1] if entries else encoder.dim


def recommender_over(
    profiles: list[ProfileText],
    entries: list[tuple[str, ProfileVectors, ProfileMeta]],
    dim: int,
    tagger: ThemeTagger | None,
    params: ScoringParams = ScoringParams(),
    ranker: LearnedRanker | None = None,
    lexicon: LexicalStatistics | None = None,
) -> Recommender:
    """The recommender over profiles whose vectors are in hand; the index copies them. Its TF-IDF
    space is fitted on their texts, or is the one `lexicon` describes (a run's)."""
    index = PhraseIndex(dim=dim).bulk_load(entries)
    texts = {p.id: p.whole_text for p in profiles}
    lexical = LexicalModel().fit(texts) if lexicon is None else LexicalModel().with_statistics(lexicon, texts)
    places = {p.id: place_of(p) for p in profiles}
    return Recommender(index, lexical, tagger, params, ranker=ranker, places=places)
