"""Suggestion filters take codes in either case, as the profile list does (issue 18 item 8), on both databases."""

import pytest

from tests.service.api.test_suggestions import DEMO

KOREAN_CITIES = {"busan", "gwangju", "seoul", "suwon"}


@pytest.fixture
def demo(app, client, keys):
    assert client.post("/bundles", json=DEMO, headers=keys.auth("admin")).status_code == 200
    return client


def suggested(client, keys, profile: str, **params) -> list[str]:
    r = client.get(f"/profiles/{profile}/suggestions", params=params, headers=keys.auth("manager"))
    assert r.status_code == 200, r.text
    return [s["id"] for s in r.json()["items"]]


def test_a_bloc_and_a_country_are_codes_in_either_case(demo, keys):
    as_stored = suggested(demo, keys, "doosan", target="city", bloc="KR", include_partners="true")
    assert set(as_stored) == KOREAN_CITIES
    for bloc in ("kr", "Kr"):
        assert suggested(demo, keys, "doosan", target="city", bloc=bloc, include_partners="true") == as_stored
    dutch = suggested(demo, keys, "eindhoven", target="organisation", country="NL", include_partners="true")
    assert (
        dutch
        and suggested(demo, keys, "eindhoven", target="organisation", country="nl", include_partners="true") == dutch
    )
    assert suggested(demo, keys, "doosan", target="city", bloc="zz") == []
