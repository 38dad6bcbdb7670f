"""The live index held by the app: every profile's phrases in memory, kept in step with profile writes.

At start every profile's phrase vectors come from the database cache (encoding only text never
seen by this model); each profile write re-encodes only that profile's new phrases, and computes
their TF-IDF rows and usual scores, while suggestion requests go on; only then does it stop them,
for the few cheap steps that put its entries in place. So a suggestion request never encodes
stored text, scans the database, or waits for another request's encoding or a queue of edits.
"""

import itertools
import logging
import threading
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from embeddings import CachedEncoder, Encoder, load_encoder
from matching.lexical import LexicalModel
from matching.recommend import Query, Recommender, Suggestion
from matching.scoring import Kind
from matching.types import CandidateFilter
from service.batch.runs import current_run, run_lexicon
from service.db import store
from service.db.vector_cache import DatabaseVectorCache
from service.errors import FieldProblem, InvalidInput, ProfileNotFound
from service.live.memo import Memo
from service.live.places import home_city, partner_cities, place_of
from service.live.profiles_text import ProfileText, all_profile_texts, many_profile_vectors, profile_vectors
from service.live.recommenders import build_recommender, load_ranker, load_tagger, ranker_id
from service.live.rwlock import ReadWriteLock
from service.live.snapshot import Snapshot, copies_of, snapshot_of
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
    """Holds the recommender for the app; every method is safe to call from several threads.

    `lock` (a fair readers–writer lock) guards the recommender and `texts`: suggestion requests
    read under it, several at once, while they score, and cohort pairing while it copies its
    members out (`snapshot`). Writers (profile writes, the build, a new TF-IDF space) go one at a
    time (`_writes`), and each does its costly part (reading the database, encoding, TF-IDF rows,
    usual scores: `Recommender.prepare_write`) beside the readers; it holds `lock` alone only for
    the cheap steps that change the recommender (`Recommender.apply_write`). A request waits at
    most for one such step, never behind a queue of edits. A write of one of the usual scores'
    askers (64 per kind) moves every candidate's usual score: those are refitted on a copy beside
    the readers and swapped in after, so a request overlapping that write may see its new entry
    with the usual scores of before; once the write returns, every request sees all of it.

    Writes are applied in the order their refreshes read the database, not the order they finish
    encoding: each refresh takes a ticket while it reads (one read at a time, `_reads`), and an
    entry is swapped in only if its ticket is newer than the one that last set that id. A refresh
    reads after its own write has committed, so the newest ticket of an id read the newest
    committed state: of two concurrent writes of a profile, the index ends holding the one
    committed last, and a deleted profile is never put back by a slower write before it.
    """

    def __init__(self, *, settings: Settings, sessions: sessionmaker[Session], encoder: Encoder | None = None) -> None:
        self.settings = settings
        self.sessions = sessions
        self._encoder = encoder
        self.lock = ReadWriteLock()
        self._writes = threading.Lock()  # one writer at a time: what it prepares stays valid until it applies it
        self._follow = threading.Lock()
        self.recommender: Recommender | None = None
        self.texts: dict[str, ProfileText] = {}
        self.encoded_at_start = 0
        self.ranker_label = "handset"  # what scores suggestions, once started: "handset" or "learned:<digest>"
        self.results: Memo = Memo()  # what use cases compute from the index, keyed by `scoring_state`
        self._reads = threading.Lock()
        self._tickets = itertools.count(1)
        self._built_at: int | None = None  # the ticket of the read the index was built from
        self._set_at: dict[str, int] = {}  # id → the ticket of the read that last set (or removed) its entry
        self._lexical_fits = 0  # how many times the TF-IDF space was fitted: every lexical score moves then
        self._usual_swaps = 0  # how many times refitted usual scores were swapped in: learned scores move then
        self._refitting = False
        self.lexicon_run: int | None = None  # the run whose TF-IDF statistics the index has taken on
        self._following: threading.Thread | None = None

    @property
    def encoder(self) -> CachedEncoder:
        base = self._encoder or load_encoder(
            self.settings.model, backend=self.settings.encoder_backend, export_root=self.settings.encoder_cache
        )
        return CachedEncoder(base, DatabaseVectorCache(self.sessions))

    def start(self) -> None:
        """Build the index from every stored profile, unless one was handed over (benchmarks do)."""
        with self._writes:
            if self.recommender is not None:
                return
            encoder = self.encoder
            with self._reads, self.sessions() as session:
                self._built_at = next(self._tickets)
                texts = all_profile_texts(session)
                current = current_run(session)
                lexicon = None if current is None else run_lexicon(session, current.id)
            tagger = load_tagger(self.settings.themes_path, encoder)
            ranker = load_ranker(self.settings.ranker_path)
            recommender = build_recommender(list(texts.values()), encoder, tagger, ranker=ranker, lexicon=lexicon)
            with self.lock.writing():
                self.texts, self.recommender = texts, recommender
                self._lexical_fits += 1
            self.lexicon_run = None if current is None else current.id
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

    def profiles_changed(self, ids: Iterable[str]) -> None:
        """Bring these profiles' entries in step with the database, after a write has committed:
        re-index those stored (encoding only their new text, while others read), drop those gone.

        The entries are swapped in only if no newer read has set them meanwhile (see the class
        docstring), so this may run in several threads at once.
        """
        ids = list(dict.fromkeys(ids))
        if not ids:
            return
        with self._reads:
            if self._built_at is None and self.recommender is None:
                return  # not built yet: the build reads the database after this write's commit
            ticket = next(self._tickets)
            with self.sessions() as session:
                texts = [ProfileText.from_row(r) for r in store.profiles_by_ids(session, ids)]
        vectors = many_profile_vectors(self.encoder, texts)
        stored = {t.id for t in texts}
        with self._writes:
            recommender = self.recommender
            if recommender is None:  # the build it waited for failed: the next one reads the database anew
                return
            newer = {key for key in ids if ticket > max(self._set_at.get(key, 0), self._built_at or 0)}
            fresh = [(t, v) for t, v in zip(texts, vectors) if t.id in newer]
            gone = [key for key in ids if key in newer and key not in stored and key in self.texts]
            write = recommender.prepare_write([(t.id, v, t.meta, place_of(t), t.whole_text) for t, v in fresh], gone)
            with self.lock.writing():
                self._set_at.update(dict.fromkeys(newer, ticket))
                for text, _ in fresh:
                    self.texts[text.id] = text
                for key in gone:
                    del self.texts[key]
                behind = recommender.apply_write(write)
            if behind:
                usual = recommender.settled_usual(write)
                with self.lock.writing():
                    recommender.context.use_usual(usual)
                    self._usual_swaps += 1
            outgrown = recommender.lexical.outgrown() and not self._refitting
            self._refitting |= outgrown
        if outgrown:
            self._refit_lexical()

    def _refit_lexical(self) -> None:
        """Fit the TF-IDF space anew on every profile's text, outside the lock."""
        try:
            self._swap_lexical(lambda texts: LexicalModel().fit(texts))
        finally:
            self._refitting = False

    def follow_run(self, run_id: int | None, *, wait: bool = False) -> None:
        """Take on the TF-IDF statistics of run `run_id`, the current one, so that a pair's lexical part
        is scored live as the run scored it: once per run, in a thread of its own (`wait` joins it).

        Until it is done, and for runs stored without statistics, the index scores with its own; once
        writes outgrow the run's statistics (see `LexicalModel.outgrown`) it refits its own again.
        """
        if run_id is None or run_id == self.lexicon_run:  # every request asks: answered without the lock
            return
        with self._follow:
            if run_id == self.lexicon_run or self.recommender is None:
                return
            if self._following is None or not self._following.is_alive():
                self._following = threading.Thread(
                    target=self._take_on_lexicon, args=(run_id,), name=f"lexicon-of-run-{run_id}", daemon=True
                )
                self._following.start()
            following = self._following
        if wait:
            following.join()

    def _take_on_lexicon(self, run_id: int) -> None:
        try:
            with self.sessions() as session:
                lexicon = run_lexicon(session, run_id)
            if lexicon is not None:
                self._swap_lexical(lambda texts: LexicalModel().with_statistics(lexicon, texts))
            self.lexicon_run = run_id
        except Exception:  # the next request tries again; meanwhile the index keeps its own statistics
            log.exception("could not take on the lexical statistics of run %s", run_id)

    def _swap_lexical(self, make: Callable[[dict[str, str]], LexicalModel]) -> None:
        """Build a TF-IDF space over every profile's text while others read and write; the writes made
        meanwhile are applied to it before it is swapped in."""
        with self._writes:
            texts = dict(self.texts)
        made = make({key: t.whole_text for key, t in texts.items()})
        with self._writes:
            made.update({key: t.whole_text for key, t in self.texts.items() if texts.get(key) is not t})
            made.remove([key for key in texts if key not in self.texts])
            with self.lock.writing():
                self.recommender.lexical = made
                self._lexical_fits += 1

    def snapshot(self, keys: Sequence[str]) -> Snapshot:
        """A recommender over these profiles (those indexed), to score them with each other without the lock.

        The lock is read only while their rows are copied; see `service.live.snapshot`.
        """
        recommender = self._ready()
        with self.lock.reading():
            copies = copies_of(recommender, self.texts, keys)
        return snapshot_of(copies)

    def scoring_state(self, keys: Sequence[str]) -> Hashable:
        """A value that changes whenever the scores among these profiles may change: when one of
        their entries does, the TF-IDF space is refitted, or (with the learned ranker) the entry of
        a profile in the popularity correction's sample of askers, or its refit is swapped in. A
        key for `results`."""
        recommender = self._ready()
        with self.lock.reading():
            askers: list[str] = []
            if recommender.ranker is not None and recommender.ranker.models:
                askers = sorted(a for group in recommender.context.usual.askers_.values() for a in group)
            return (
                self._lexical_fits,
                self._usual_swaps,
                tuple((key, self._set_at.get(key, 0)) for key in keys),
                tuple((key, self._set_at.get(key, 0)) for key in askers),
            )

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
        with self.lock.reading():
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
        with self.lock.reading():
            return recommender.suggest(ask, filt, request.k, diversity=request.diversity)

    def suggest_adhoc(self, query: ProfileText, request: SuggestionRequest, excluded: set[str]) -> list[Suggestion]:
        """Suggestions for a profile not stored (a city thinking of joining)."""
        recommender = self._ready()
        if not query.interests and not query.offers and not query.description.strip():
            raise InvalidInput("give interests, offers or a description to match on")
        vectors = profile_vectors(self.encoder, query)
        filt = candidate_filter(query, query.bloc, request, excluded)
        with self.lock.reading():
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
        with self.lock.reading():
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
