"""The live index held by the app: every profile's phrases in memory, kept in step with profile writes.

At start every profile's phrase vectors come from the database cache (encoding only text never
seen by this model); each profile write re-encodes only that profile's new phrases and updates the
index in place, so a suggestion request never encodes stored text or scans the database.
"""

import logging
import threading
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from embeddings import CachedEncoder, Encoder, load_encoder
from matching.index import CandidateFilter
from matching.lexical import LexicalModel
from matching.recommend import Query, Recommender, Suggestion
from matching.scoring import Kind
from service.db import store
from service.db.vector_cache import DatabaseVectorCache
from service.errors import FieldProblem, InvalidInput, ProfileNotFound
from service.live.places import home_city, partner_cities, place_of
from service.live.profiles_text import ProfileText, all_profile_texts, many_profile_vectors, profile_vectors
from service.live.recommenders import build_recommender, load_ranker, load_tagger, ranker_id
from service.settings import Settings

__all__ = ["LiveIndex", "SuggestionRequest", "candidate_filter"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SuggestionRequest:
    target: Kind
    k: int = 10
    bloc: str | None = None
    country: str | None = None
    org_type: str | None = None
    diversity: float = 0.0
    include_partners: bool = False
    scope: str = "any"  # collaborators: "local" (the asking city's own), "national" or "any"


def candidate_filter(
    query: ProfileText | None, query_bloc: str | None, request: SuggestionRequest, excluded: set[str]
) -> CandidateFilter:
    """The rules of who may be suggested: the target kind, crossing blocs for city pairings by default.

    `scope` narrows organisations suggested to the asking city's own (for an organisation asking:
    those of its home city) or its country's; "any" leaves the learned locality prior to weigh.
    """
    crossing = request.target == Kind.CITY and (query is None or query.kind == Kind.CITY) and request.bloc is None
    country = request.country.upper() if request.country else None
    city = None
    if request.target == Kind.ORGANISATION and query is not None and request.scope != "any":
        if request.scope == "national":
            country = query.country
        else:
            home = query.id if query.kind == Kind.CITY else query.city
            if home is None:
                raise InvalidInput(
                    "scope=local needs a home city: this organisation has none",
                    [FieldProblem("/query/scope", f"{request.scope!r}: the asking organisation has no city")],
                )
            city = home
    return CandidateFilter(
        kind=request.target.value,
        bloc=request.bloc,
        exclude_bloc=query_bloc if crossing else None,
        country=country,
        org_type=request.org_type,
        city=city,
        exclude_keys=frozenset(excluded),
    )


class LiveIndex:
    """Holds the recommender for the app; every method is safe to call from several threads (`mutex`)."""

    def __init__(self, *, settings: Settings, sessions: sessionmaker[Session], encoder: Encoder | None = None) -> None:
        self.settings = settings
        self.sessions = sessions
        self._encoder = encoder
        self.mutex = threading.RLock()
        self.recommender: Recommender | None = None
        self.texts: dict[str, ProfileText] = {}
        self.encoded_at_start = 0
        self.ranker_label = "handset"  # what scores suggestions, once started: "handset" or "learned:<digest>"

    @property
    def encoder(self) -> CachedEncoder:
        base = self._encoder or load_encoder(self.settings.model)
        return CachedEncoder(base, DatabaseVectorCache(self.sessions))

    def start(self) -> None:
        """Build the index from every stored profile, unless one was handed over (benchmarks do)."""
        with self.mutex:
            if self.recommender is not None:
                return
            encoder = self.encoder
            with self.sessions() as session:
                self.texts = all_profile_texts(session)
            tagger = load_tagger(self.settings.themes_path, encoder)
            ranker = load_ranker(self.settings.ranker_path)
            self.recommender = build_recommender(list(self.texts.values()), encoder, tagger, ranker=ranker)
            self.ranker_label = ranker_id(self.settings.ranker_path) if ranker is not None else "handset"
            encoder.encoder.load()  # a server encodes on profile writes: load the weights now, not in the first one
            self.encoded_at_start = encoder.encoded_count_
            log.info("index built: %d profiles, %d texts encoded anew", len(self.texts), encoder.encoded_count_)

    def recommender_ready(self) -> Recommender:
        """The recommender, built on first use; callers must not mutate it."""
        return self._ready()

    def _ready(self) -> Recommender:
        if self.recommender is None:
            self.start()
        return self.recommender

    def profiles_changed(self, ids: list[str]) -> None:
        if not ids or self.recommender is None:
            return
        with self.mutex, self.sessions() as session:
            rows = store.profiles_by_ids(session, ids)
            texts = [ProfileText.from_row(r) for r in rows]
            vectors = many_profile_vectors(self.encoder, texts)
            for text in texts:
                self.texts[text.id] = text
            self.recommender.upsert([(t.id, v, t.meta, place_of(t), t.whole_text) for t, v in zip(texts, vectors)])
            if self.recommender.lexical.outgrown():
                self.recommender.lexical = LexicalModel().fit({t.id: t.whole_text for t in self.texts.values()})

    def profiles_removed(self, ids: list[str]) -> None:
        if self.recommender is None:
            return
        with self.mutex:
            for key in ids:
                self.texts.pop(key, None)
            self.recommender.remove(ids)

    def status(self) -> dict:
        if self.recommender is None:
            return {"ready": False}
        return {
            "ready": True,
            "profiles": len(self.recommender.index),
            "model": self.encoder.model_id,
            "ranker": self.ranker_label,
        }

    def suggest_for(self, session: Session, profile_id: str, request: SuggestionRequest) -> list[Suggestion]:
        """Suggestions for a stored profile, never itself, its exclusions, nor (unless asked) its partners."""
        recommender = self._ready()
        with self.mutex:
            query = self.texts.get(profile_id)
            if query is None:
                raise ProfileNotFound(f"no profile with id {profile_id!r}")
            vectors = recommender.index.vectors_of(profile_id)
        excluded = {profile_id} | store.excluded_ids(session, profile_id)
        partners = store.partner_ids(session, profile_id)
        if not request.include_partners:
            excluded |= partners
        filt = candidate_filter(query, query.bloc, request, excluded)
        home = home_city(query)
        if home != profile_id:
            partners = store.partner_ids(session, home) if home else set()
        ask = Query(
            vectors,
            query.whole_text,
            query.kind,
            key=profile_id,
            place=place_of(query),
            partners=partner_cities(partners, self.texts),
        )
        with self.mutex:
            return recommender.suggest(ask, filt, request.k, diversity=request.diversity)

    def suggest_adhoc(self, query: ProfileText, request: SuggestionRequest, excluded: set[str]) -> list[Suggestion]:
        """Suggestions for a profile not stored (a city thinking of joining)."""
        recommender = self._ready()
        if not query.interests and not query.offers and not query.description.strip():
            raise InvalidInput("give interests, offers or a description to match on")
        vectors = profile_vectors(self.encoder, query)
        filt = candidate_filter(query, query.bloc, request, excluded)
        with self.mutex:
            return recommender.suggest(
                Query(vectors, query.whole_text, query.kind, place=place_of(query)),
                filt,
                request.k,
                diversity=request.diversity,
            )

    def phrase_themes(self, profile_id: str) -> dict[str, list[str]]:
        """Each phrase of an indexed profile with the labels of its themes, from the index's tagger."""
        recommender = self._ready()
        if recommender.tagger is None:
            return {}
        with self.mutex:
            if profile_id not in recommender.index:
                return {}
            vectors = recommender.index.vectors_of(profile_id)
        tags = recommender.tagger.tag(vectors.vectors)
        return {text: [recommender.tagger.label(t) for t, _ in found] for text, found in zip(vectors.texts, tags)}

    def profile_text(self, profile_id: str) -> ProfileText | None:
        return self.texts.get(profile_id)

    def theme_label(self, theme_id: str) -> str:
        tagger = self._ready().tagger
        return tagger.label(theme_id) if tagger else theme_id
