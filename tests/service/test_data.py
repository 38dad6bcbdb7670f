"""The shipped data: the demo bundle and evaluation bundles are valid, and themes cover the seed."""

import json
from pathlib import Path

import pytest

from service.domain.bundles import parse_bundle

DATA = Path(__file__).resolve().parents[2] / "data"
BUNDLES = sorted([DATA / "world-cities-eu-korea.json", *(DATA / "eval").glob("*.json")])


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.name)
def test_bundle_is_valid_and_self_contained(path):
    bundle = parse_bundle(json.loads(path.read_text(encoding="utf-8")))
    ids = {p.id for p in bundle.profiles}
    assert len(ids) == len(bundle.profiles)
    refs = [r for p in bundle.partnerships for r in (p.a, p.b)]
    refs += [m for c in bundle.cohorts for side in c.sides.values() for m in side]
    refs += [p.city for p in bundle.profiles if p.city]
    assert set(refs) <= ids


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.name)
def test_no_city_names_its_known_partner(path):
    """The evaluation must not be answerable by reading a partner's name in the text."""
    bundle = parse_bundle(json.loads(path.read_text(encoding="utf-8")))
    profiles = {p.id: p for p in bundle.profiles}
    for ps in bundle.partnerships:
        a, b = profiles[ps.a], profiles[ps.b]
        if a.kind == b.kind == "city":
            text_a = " ".join([a.description, *a.interests, *a.offers]).lower()
            assert b.name.lower() not in text_a, (a.id, b.name)


def test_demo_bundle_holds_the_seed():
    bundle = parse_bundle(json.loads((DATA / "world-cities-eu-korea.json").read_text(encoding="utf-8")))
    cities = {p.id for p in bundle.profiles if p.kind == "city"}
    assert cities == {
        "barcelona",
        "busan",
        "suwon",
        "scottish-cities-alliance",
        "gwangju",
        "tampere",
        "eindhoven",
        "seoul",
    }
    names = " ".join(p.name for p in bundle.profiles if p.kind == "organisation").lower()
    for org in (
        "philips",
        "doosan",
        "fontys",
        "blanquerna",
        "university of barcelona",
        "climate and environment",
        "seoul digital foundation",
        "innovation park",
        "open & agile",
        "sónar",
    ):
        assert org in names, org
    city_pairs = {frozenset((p.a, p.b)) for p in bundle.partnerships if p.a in cities and p.b in cities}
    assert city_pairs == {
        frozenset(("barcelona", "busan")),
        frozenset(("scottish-cities-alliance", "suwon")),
        frozenset(("tampere", "gwangju")),
        frozenset(("eindhoven", "seoul")),
    }
    assert len(bundle.cohorts) == 1 and set(bundle.cohorts[0].sides) == {"EU", "KR"}


def test_themes_cover_the_seed():
    themes = json.loads((DATA / "themes.json").read_text(encoding="utf-8"))["themes"]
    assert 25 <= len(themes) <= 40
    assert len({t["id"] for t in themes}) == len(themes)
    assert all(t["id"] and t["label"] and t["definition"] for t in themes)
    ids = {t["id"] for t in themes}
    assert {"smart-lighting", "hydrogen-mobility", "circular-economy", "e-governance", "open-data"} <= ids
