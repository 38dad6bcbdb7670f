"""Synthetic but realistic profiles for benchmarks: real-model phrase vectors, clustered by theme.

A vocabulary of urban-cooperation phrases (templates × topics × cities) is encoded once with the
real model and cached as .npy; each generated profile then draws ~10 phrases from one to three
themes, and each phrase instance is its vocabulary vector plus a little noise, renormalised, so
that two profiles using "the same" phrase are close but not identical, as paraphrases are.

Used by `benchmarks/suggestions.py` and meant to be reused by the batch benchmark:

    vocab = load_vocabulary()  # encodes on first use, then reads the cache
    entries = [e for chunk in generate_profiles(vocab, 100_000, seed=0) for e in chunk]
    index = PhraseIndex(vocab.vectors.shape[1]).bulk_load(entries)  # (key, ProfileVectors, ProfileMeta)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from matching.types import PhraseRole, ProfileMeta
from matching.vectors import ProfileVectors

__all__ = [
    "BLOCS",
    "THEMES",
    "Vocabulary",
    "build_phrases",
    "encode_vocabulary",
    "generate_profiles",
    "load_vocabulary",
]

CACHE_DIR = Path(__file__).resolve().parent / ".cache"

THEMES: dict[str, list[str]] = {
    "mobility": [
        "sustainable urban mobility",
        "public transport",
        "cycling infrastructure",
        "electric buses",
        "bike sharing schemes",
        "pedestrian-friendly streets",
        "low emission zones",
        "parking management",
        "urban freight logistics",
        "road safety",
        "mobility as a service",
        "bus rapid transit",
    ],
    "energy": [
        "energy efficiency in public buildings",
        "renewable energy",
        "rooftop solar",
        "district heating",
        "energy poverty",
        "deep building retrofits",
        "smart grids",
        "citizen energy communities",
        "LED street lighting",
        "heat pumps",
    ],
    "water": [
        "drinking water supply",
        "wastewater treatment",
        "flood risk management",
        "stormwater drainage",
        "reducing water leakage",
        "rainwater harvesting",
        "river restoration",
        "water quality monitoring",
        "urban sanitation",
        "water reuse",
    ],
    "circular economy": [
        "municipal waste collection",
        "recycling rates",
        "the circular economy",
        "composting organic waste",
        "landfill reduction",
        "single-use plastics",
        "repair and reuse centres",
        "construction waste",
        "food waste prevention",
        "waste-to-energy",
    ],
    "climate": [
        "climate adaptation",
        "urban heat islands",
        "heatwave preparedness",
        "climate risk assessment",
        "coastal protection",
        "drought resilience",
        "climate action plans",
        "greenhouse gas inventories",
        "carbon neutrality by 2050",
        "climate finance",
    ],
    "nature": [
        "urban green spaces",
        "nature-based solutions",
        "urban forests",
        "urban biodiversity",
        "green roofs and walls",
        "parks management",
        "tree planting",
        "ecological corridors",
        "wetland protection",
        "pollinator-friendly planting",
    ],
    "digital": [
        "smart city platforms",
        "open data portals",
        "digital public services",
        "e-government",
        "municipal cybersecurity",
        "urban data analytics",
        "digital twins of the city",
        "broadband for all",
        "digital skills for citizens",
        "IoT sensor networks",
    ],
    "housing": [
        "affordable housing",
        "social housing",
        "upgrading informal settlements",
        "housing renovation",
        "ending homelessness",
        "tenant participation",
        "land use planning",
        "urban densification",
        "housing finance",
        "cooperative housing",
    ],
    "regeneration": [
        "urban regeneration",
        "brownfield redevelopment",
        "revitalising the historic centre",
        "waterfront redevelopment",
        "public space design",
        "mixed-use neighbourhoods",
        "reusing vacant buildings",
        "industrial heritage",
        "street markets",
        "placemaking",
    ],
    "culture": [
        "cultural heritage",
        "creative industries",
        "museums",
        "cultural festivals",
        "intangible heritage",
        "arts education",
        "public libraries",
        "live music venues",
        "film production",
        "cultural diplomacy",
    ],
    "tourism": [
        "sustainable tourism",
        "managing overtourism",
        "destination marketing",
        "ecotourism",
        "visitor flows",
        "regulating short-term rentals",
        "gastronomy tourism",
        "conference tourism",
        "heritage trails",
        "tourism statistics",
    ],
    "economy": [
        "local economic development",
        "support for small businesses",
        "startup ecosystems",
        "innovation districts",
        "business incubators",
        "attracting foreign investment",
        "local supply chains",
        "the social economy",
        "the informal economy",
        "skills for jobs",
    ],
    "inclusion": [
        "social inclusion",
        "integration of migrants",
        "gender equality",
        "youth unemployment",
        "care for older people",
        "accessibility for people with disabilities",
        "poverty reduction",
        "community centres",
        "fighting discrimination",
        "refugee reception",
    ],
    "health": [
        "public health",
        "healthy cities",
        "air quality monitoring",
        "mental health services",
        "primary health care",
        "active lifestyles",
        "noise pollution",
        "pandemic preparedness",
        "healthy food environments",
        "health data",
    ],
    "education": [
        "school education",
        "vocational training",
        "early childhood education",
        "school buildings",
        "lifelong learning",
        "university partnerships",
        "student exchanges",
        "STEM education",
        "adult literacy",
        "education technology",
    ],
    "governance": [
        "participatory budgeting",
        "citizen participation",
        "transparency and anti-corruption",
        "municipal finance",
        "green public procurement",
        "multilevel governance",
        "strategic urban planning",
        "performance monitoring",
        "metropolitan cooperation",
        "training civil servants",
    ],
    "food": [
        "urban food systems",
        "farmers markets",
        "school meals",
        "peri-urban agriculture",
        "food security",
        "short food supply chains",
        "community gardens",
        "food policy councils",
        "sustainable diets",
        "food banks",
    ],
    "safety": [
        "disaster risk reduction",
        "emergency management",
        "urban safety",
        "crime prevention",
        "earthquake preparedness",
        "fire and rescue services",
        "urban resilience strategies",
        "protecting critical infrastructure",
        "community policing",
        "violence prevention",
    ],
    "ports": [
        "port city development",
        "freight logistics",
        "the maritime economy",
        "the blue economy",
        "shipping emissions",
        "inland waterways",
        "logistics hubs",
        "airport connectivity",
        "rail freight",
        "cross-border trade",
    ],
    "youth": [
        "sport for all",
        "youth engagement",
        "youth centres",
        "sports facilities",
        "hosting major sporting events",
        "after-school programmes",
        "youth councils",
        "volunteering",
        "playgrounds",
        "youth entrepreneurship",
    ],
}

INTEREST_TEMPLATES = [
    "{t}",
    "improving {t}",
    "learning from other cities about {t}",
    "policies for {t}",
    "financing {t}",
    "scaling up {t}",
    "{t} in mid-sized cities",
    "good practices in {t}",
]
OFFER_TEMPLATES = [
    "expertise in {t}",
    "training programmes on {t}",
    "a pilot project on {t}",
    "technical assistance for {t}",
    "our experience with {t}",
    "tools and methods for {t}",
    "study visits on {t}",
    "applied research on {t}",
]
DESCRIPTION_TEMPLATES = [
    "{city} has been working on {t} since {year}.",
    "{city} is known for its programme on {t}.",
    "Our municipality invests in {t} and {u}.",
    "In {city}, {t} is a priority of the city council.",
    "We have a dedicated team for {t} and {u}.",
    "Since {year} the city has a strategy for {t}.",
    "{city} won a national award for {t}.",
    "Our organisation supports local governments with {t}.",
    "We partner with universities on {t} and {u}.",
    "The mayor of {city} has made {t} a flagship policy.",
]

# Blocs as in international urban cooperation programmes (cities pair across blocs).
BLOCS: dict[str, list[str]] = {
    "EU": [
        "Germany",
        "France",
        "Italy",
        "Spain",
        "Poland",
        "Netherlands",
        "Portugal",
        "Sweden",
        "Greece",
        "Czechia",
        "Austria",
        "Belgium",
    ],
    "Latin America": ["Brazil", "Mexico", "Argentina", "Colombia", "Chile", "Peru", "Ecuador"],
    "Asia": ["India", "Japan", "Indonesia", "Viet Nam", "Thailand", "Korea", "Malaysia"],
    "North America": ["United States", "Canada"],
    "Africa": ["Kenya", "South Africa", "Morocco", "Ghana", "Senegal"],
}
BLOC_SHARE = {"EU": 0.45, "Latin America": 0.2, "Asia": 0.2, "North America": 0.08, "Africa": 0.07}
ORG_TYPES = ["university", "ngo", "company", "public agency", "city network"]
CITY_NAMES = [
    "Porto",
    "Lyon",
    "Leipzig",
    "Bologna",
    "Gdansk",
    "Utrecht",
    "Malmo",
    "Thessaloniki",
    "Brno",
    "Graz",
    "Ghent",
    "Valencia",
    "Curitiba",
    "Medellin",
    "Guadalajara",
    "Rosario",
    "Valparaiso",
    "Cuenca",
    "Pune",
    "Surabaya",
    "Da Nang",
    "Chiang Mai",
    "Yokohama",
    "Daegu",
    "Penang",
    "Pittsburgh",
    "Montreal",
    "Portland",
    "Kisumu",
    "Durban",
    "Rabat",
    "Kumasi",
    "Dakar",
]


def build_phrases(seed: int = 0) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Return the vocabulary: texts, each text's theme index and the role it is written for."""
    rng = np.random.default_rng(seed)
    texts: list[str] = []
    themes: list[int] = []
    roles: list[int] = []
    for theme_id, topics in enumerate(THEMES.values()):
        for topic in topics:
            for template in INTEREST_TEMPLATES:
                texts.append(template.format(t=topic))
                themes.append(theme_id)
                roles.append(PhraseRole.INTEREST)
            for template in OFFER_TEMPLATES:
                texts.append(template.format(t=topic))
                themes.append(theme_id)
                roles.append(PhraseRole.OFFER)
            for _ in range(12):
                template = DESCRIPTION_TEMPLATES[rng.integers(len(DESCRIPTION_TEMPLATES))]
                other = topics[rng.integers(len(topics))]
                text = template.format(
                    t=topic,
                    u=other,
                    city=CITY_NAMES[rng.integers(len(CITY_NAMES))],
                    year=int(rng.integers(1995, 2024)),
                )
                texts.append(text[0].upper() + text[1:])
                themes.append(theme_id)
                roles.append(PhraseRole.DESCRIPTION)
    # the same sentence can come out twice; keep the first
    _, first = np.unique(np.array(texts, dtype=object), return_index=True)
    keep = np.sort(first)
    return [texts[i] for i in keep], np.array(themes)[keep], np.array(roles, dtype=np.int8)[keep]


@dataclass(frozen=True)
class Vocabulary:
    """Encoded phrases and what each is about; profiles are drawn from it."""

    texts: tuple[str, ...]
    vectors: np.ndarray  # (n, dim) float32 unit rows, from the real model
    theme: np.ndarray  # (n,) theme index
    role: np.ndarray  # (n,) int8 PhraseRole the phrase was written for


def encode_vocabulary(
    encode: Callable[[Sequence[str]], np.ndarray], model_id: str, *, seed: int = 0, cache_dir: Path = CACHE_DIR
) -> Vocabulary:
    """Encode the vocabulary with `encode`, or read it from the cache if these texts were encoded before."""
    texts, themes, roles = build_phrases(seed)
    digest = hashlib.sha256(json.dumps([model_id, texts]).encode()).hexdigest()[:16]
    path = cache_dir / f"vocabulary-{digest}.npy"
    if path.exists():
        vectors = np.load(path)
    else:
        vectors = np.ascontiguousarray(encode(texts), dtype=np.float32)
        cache_dir.mkdir(parents=True, exist_ok=True)
        (cache_dir / ".gitignore").write_text("*\n")
        np.save(path, vectors)
    return Vocabulary(texts=tuple(texts), vectors=vectors, theme=themes, role=roles)


def load_vocabulary(*, seed: int = 0, cache_dir: Path = CACHE_DIR) -> Vocabulary:
    """Encode the vocabulary with the project's model (loaded only on a cache miss)."""
    from embeddings.encoder import default_model_path

    texts, _, _ = build_phrases(seed)
    model_id = default_model_path().name

    def encode(batch: Sequence[str]) -> np.ndarray:
        from embeddings.encoder import load_encoder

        return load_encoder().encode(batch)

    return encode_vocabulary(encode, model_id, seed=seed, cache_dir=cache_dir)


def home_city(rng: np.random.Generator, cities: list[str], share: float = 0.7) -> str | None:
    """An organisation's home city: one of its country's cities so far, for `share` of them."""
    return cities[int(rng.integers(len(cities)))] if cities and rng.random() < share else None


def generate_profiles(
    vocab: Vocabulary,
    n: int,
    *,
    seed: int = 0,
    city_share: float = 0.6,
    noise: float = 0.02,
    chunk_size: int = 10_000,
) -> Iterator[list[tuple[str, ProfileVectors, ProfileMeta]]]:
    """Yield `n` profiles in chunks of (key, ProfileVectors, ProfileMeta).

    Cities have ~4 interests, ~3 offers and ~3 description sentences, organisations fewer
    interests and more offers. Each profile is about one main theme and possibly one or two more
    (themes are Zipf-popular, so some are crowded, as mobility and climate are). The vectors of a
    chunk are views into one array, so a chunk is freed at once when its profiles are dropped.
    `noise` is the per-dimension standard deviation added to each phrase before renormalising
    (0.02 → cosine ≈ 0.93 to the vocabulary phrase, ≈ 0.87 between two instances of it).
    """
    rng = np.random.default_rng(seed)
    n_themes = len(THEMES)
    theme_p = 1.0 / np.arange(1, n_themes + 1) ** 0.8
    theme_p = rng.permutation(theme_p / theme_p.sum())
    by_theme_role = {
        (t, r): np.flatnonzero((vocab.theme == t) & (vocab.role == r))
        for t in range(n_themes)
        for r in (PhraseRole.INTEREST, PhraseRole.OFFER, PhraseRole.DESCRIPTION)
    }
    blocs = list(BLOC_SHARE)
    bloc_p = np.array([BLOC_SHARE[b] for b in blocs])
    texts = vocab.texts
    # organisations' home cities from a generator of their own, so every other draw is as before
    homes, cities_in = np.random.default_rng(seed + 7), {}

    for chunk_start in range(0, n, chunk_size):
        count = min(chunk_size, n - chunk_start)
        phrase_ids: list[np.ndarray] = []
        role_lists: list[np.ndarray] = []
        metas: list[ProfileMeta] = []
        for i in range(count):
            is_city = rng.random() < city_share
            n_extra = rng.choice(3, p=[0.3, 0.5, 0.2])
            profile_themes = rng.choice(n_themes, size=1 + n_extra, replace=False, p=theme_p)
            # the main theme gets most phrases
            weights = np.array([3.0] + [1.0] * n_extra)
            weights /= weights.sum()
            if is_city:
                counts = (rng.integers(3, 6), rng.integers(2, 5), rng.integers(2, 5))
            else:
                counts = (rng.integers(1, 3), rng.integers(3, 6), rng.integers(2, 5))
            ids = []
            roles = []
            for role, c in zip((PhraseRole.INTEREST, PhraseRole.OFFER, PhraseRole.DESCRIPTION), counts):
                for t in rng.choice(profile_themes, size=c, p=weights):
                    pool = by_theme_role[(int(t), int(role))]
                    ids.append(pool[rng.integers(len(pool))])
                    roles.append(role)
            phrase_ids.append(np.array(ids))
            role_lists.append(np.array(roles, dtype=np.int8))
            bloc = blocs[rng.choice(len(blocs), p=bloc_p)]
            country = BLOCS[bloc][rng.integers(len(BLOCS[bloc]))]
            metas.append(
                ProfileMeta(
                    kind="city" if is_city else "organisation",
                    bloc=bloc,
                    country=country,
                    org_type=None if is_city else ORG_TYPES[rng.integers(len(ORG_TYPES))],
                    city=None if is_city else home_city(homes, cities_in.get(country, [])),
                )
            )
            if is_city:
                cities_in.setdefault(country, []).append(f"p{chunk_start + i:07d}")
        flat = np.concatenate(phrase_ids)
        block = vocab.vectors[flat]
        block += noise * rng.standard_normal(block.shape, dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        entries = []
        start = 0
        for i, (ids, roles, meta) in enumerate(zip(phrase_ids, role_lists, metas)):
            stop = start + len(ids)
            entries.append(
                (
                    f"p{chunk_start + i:07d}",
                    ProfileVectors(vectors=block[start:stop], roles=roles, texts=tuple(texts[j] for j in ids)),
                    meta,
                )
            )
            start = stop
        yield entries
