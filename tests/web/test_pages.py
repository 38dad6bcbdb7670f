"""The workspace pages through the ASGI app on both databases: sign-in, roles, CSRF, forms, imports, exports."""

import csv
import io
import json
import re
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from service.auth import Role, create_key, hash_secret
from service.batch.jobs import RerankParams, rerank
from service.db.engine import session_scope
from service.db.models import ApiKey, Exclusion, Partnership, Profile, utcnow
from tests.service.batch.test_batch_and_live import NEW_CITY
from tests.web.conftest import DEMO

DATA = Path(__file__).resolve().parents[2] / "data"
COHORT = "world-cities-eu-korea-2017-18"
REAL = {
    frozenset(p)
    for p in (
        ("barcelona", "busan"),
        ("scottish-cities-alliance", "suwon"),
        ("tampere", "gwangju"),
        ("eindhoven", "seoul"),
    )
}


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden field {name!r} on the page"
    return found.group(1)


def sign_in(client: TestClient, key: str) -> str:
    """Sign in through the form; returns the session's CSRF token."""
    form = client.get("/app/login")
    r = client.post("/app/login", data={"key": key, "login_token": hidden(form.text, "login_token")})
    assert r.status_code == 200, r.text
    return hidden(r.text, "csrf")


def browser(app) -> TestClient:
    """A second browser on the same app (its own cookie jar)."""
    return TestClient(app)


def count(app, model) -> int:
    with app.state.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


# sign-in, cookies, sign-out


def test_pages_send_strangers_to_sign_in_and_back(demo, keys):
    r = demo.get("/app/profiles/eindhoven?x=1", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/login?next=%2Fapp%2Fprofiles%2Feindhoven%3Fx%3D1"
    page = demo.get(r.headers["location"])
    assert 'name="next" value="/app/profiles/eindhoven?x=1"' in page.text
    r = demo.post(
        "/app/login",
        data={
            "key": keys.manager,
            "login_token": hidden(page.text, "login_token"),
            "next": "/app/profiles/eindhoven?x=1",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/app/profiles/eindhoven?x=1"


def test_sign_in_sets_a_strict_http_only_session_cookie(demo, keys):
    form = demo.get("/app/login")
    r = demo.post(
        "/app/login",
        data={"key": keys.manager, "login_token": hidden(form.text, "login_token")},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/app/profiles"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("twinning_session="))
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/app"} <= flags
    assert "secure" not in flags  # plain http here; https below
    with TestClient(demo.app, base_url="https://testserver") as secure:
        form = secure.get("/app/login")
        r = secure.post(
            "/app/login",
            data={"key": keys.manager, "login_token": hidden(form.text, "login_token")},
            follow_redirects=False,
        )
        cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("twinning_session="))
        assert "secure" in {part.strip().lower() for part in cookie.split(";")}


def test_members_start_at_their_own_profile(demo, keys):
    csrf = sign_in(demo, keys.member)
    assert csrf
    r = demo.get("/app", follow_redirects=False)
    assert r.headers["location"] == "/app/profiles/eindhoven"


def test_a_wrong_key_or_a_forged_sign_in_form_is_refused(demo, keys):
    form = demo.get("/app/login")
    r = demo.post("/app/login", data={"key": "tw_nonsense", "login_token": hidden(form.text, "login_token")})
    assert r.status_code == 401 and "That API key is not valid" in r.text and "twinning_session" not in demo.cookies
    stranger = browser(demo.app)  # no login cookie: a form posted from another site
    r = stranger.post("/app/login", data={"key": keys.manager, "login_token": "guessed"}, follow_redirects=False)
    assert r.status_code == 403 and "twinning_session" not in r.headers.get("set-cookie", "")


def test_sign_out_ends_the_session_on_the_server(demo, keys):
    csrf = sign_in(demo, keys.manager)
    replay = browser(demo.app)  # a copy of the cookie, as a thief would hold it
    replay.cookies.set("twinning_session", demo.cookies["twinning_session"], path="/app")
    assert replay.get("/app/profiles", follow_redirects=False).status_code == 200
    assert demo.post("/app/logout", data={}, follow_redirects=False).status_code == 403  # no CSRF token
    r = demo.post("/app/logout", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/login?signed_out=1"
    assert "You are signed out." in demo.get(r.headers["location"]).text
    r = replay.get("/app/profiles", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/app/login")


def test_revoking_the_key_ends_its_sessions(demo, keys):
    sign_in(demo, keys.manager)
    assert demo.get("/app/profiles", follow_redirects=False).status_code == 200
    with demo.app.state.sessions() as session:
        session.execute(update(ApiKey).where(ApiKey.key_hash == hash_secret(keys.manager)).values(revoked_at=utcnow()))
        session.commit()
    r = demo.get("/app/profiles", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/app/login")


def test_next_never_leads_off_site(demo, keys):
    form = demo.get("/app/login?next=https://evil.example/x")
    assert 'name="next" value=""' in form.text
    for target in ("https://evil.example/x", "//evil.example/app", "/docs", "/app\\..\\x"):
        form = demo.get("/app/login")
        r = demo.post(
            "/app/login",
            data={"key": keys.manager, "login_token": hidden(form.text, "login_token"), "next": target},
            follow_redirects=False,
        )
        assert r.headers["location"] == "/app/profiles", target


def test_pages_carry_security_headers(demo, keys):
    sign_in(demo, keys.manager)
    r = demo.get("/app/profiles")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store"
    assert demo.get("/app/static/app.css").status_code == 200


# CSRF


def test_a_form_without_the_sessions_csrf_token_is_rejected(demo, keys):
    csrf = sign_in(demo, keys.manager)
    other = browser(demo.app)
    other_csrf = sign_in(other, keys.manager)
    url = "/app/profiles/eindhoven/suggestions/philips-lighting/reject"
    for data in ({}, {"csrf": ""}, {"csrf": "x" * 43}, {"csrf": other_csrf}):
        r = demo.post(url, data=data | {"reason": "forged"}, follow_redirects=False)
        assert r.status_code == 403, data
        assert "did not come from this site" in r.text
    assert count(demo.app, Exclusion) == 0
    r = demo.post(url, data={"csrf": csrf, "reason": "not now"}, follow_redirects=False)
    assert r.status_code == 303
    assert count(demo.app, Exclusion) == 1


# roles


def test_member_cannot_open_or_post_another_citys_edit_page(demo, keys):
    csrf = sign_in(demo, keys.member)
    assert demo.get("/app/profiles/eindhoven/edit").status_code == 200
    r = demo.get("/app/profiles/seoul/edit")
    assert r.status_code == 403 and "Forbidden" in r.text
    r = demo.post("/app/profiles/seoul/edit", data={"csrf": csrf, "version": "1", "name": "Hacked"})
    assert r.status_code == 403
    assert demo.get("/app/profiles/seoul/suggestions").status_code == 403
    seoul = demo.get("/app/profiles/seoul")
    assert seoul.status_code == 200 and "Edit profile" not in seoul.text and "Partnerships" not in seoul.text
    for url in ("/app/runs", "/app/import", "/app/runs/current/suggestions.csv", f"/app/cohorts/{COHORT}/pairing.csv"):
        assert demo.get(url).status_code == 403, url
    board = demo.get(f"/app/cohorts/{COHORT}")
    assert board.status_code == 200 and "Proposed pairing" not in board.text
    assert demo.post(f"/app/cohorts/{COHORT}/accept", data={"csrf": csrf, "pair": "eindhoven|busan"}).status_code == 403
    assert count(demo.app, Partnership) == len(DEMO["partnerships"])


def test_managers_read_and_edit_every_profile(demo, keys):
    sign_in(demo, keys.manager)
    page = demo.get("/app/profiles/eindhoven")
    assert "Partnerships" in page.text and "Edit profile" in page.text and "Delete profile" in page.text
    assert demo.get("/app/profiles/eindhoven/edit").status_code == 200


def test_unknown_profile_is_a_404_page(demo, keys):
    sign_in(demo, keys.manager)
    r = demo.get("/app/profiles/atlantis")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html") and "atlantis" in r.text


# the profile list and page


def test_profile_list_filters_searches_and_pages(demo, keys, settings):
    sign_in(demo, keys.manager)
    page = demo.get("/app/profiles?kind=organisation&country=kr")
    assert "Doosan" in page.text and "Philips Lighting" not in page.text and "Seoul</a>" not in page.text
    assert "Philips Lighting" in demo.get("/app/profiles?q=LIGHTING").text
    assert "No profile matches" in demo.get("/app/profiles?q=zeppelin").text
    first = demo.get("/app/profiles?kind=city&bloc=EU")
    assert re.findall(r'<th scope="row"><a href="/app/profiles/([^"]+)"', first.text) == [
        "barcelona",
        "eindhoven",
        "scottish-cities-alliance",
        "tampere",
    ]
    settings.page_size = 2
    one = demo.get("/app/profiles?kind=city&bloc=EU")
    nxt = re.search(r'href="(/app/profiles\?[^"]*cursor=[^"]*)" rel="next"', one.text).group(1).replace("&amp;", "&")
    two = demo.get(nxt)
    assert re.findall(r'<th scope="row"><a href="/app/profiles/([^"]+)"', two.text) == [
        "scottish-cities-alliance",
        "tampere",
    ]


def test_profile_page_shows_phrases_themes_and_relations(demo, keys):
    sign_in(demo, keys.member)
    page = demo.get("/app/profiles/eindhoven").text
    assert "intelligent public lighting" in page and 'class="theme">Smart public lighting' in page
    assert "Philips Lighting" in page and "World Cities 2017-18" in page


# editing


def test_validation_messages_sit_beside_their_fields_and_nothing_is_saved(demo, keys):
    csrf = sign_in(demo, keys.member)
    form = demo.get("/app/profiles/eindhoven/edit").text
    version = hidden(form, "version")
    data = {
        "csrf": csrf,
        "version": version,
        "kind": "city",
        "name": "Eindhoven",
        "country": "XX",
        "bloc": "EU",
        "org_type": "company",
        "city": "",
        "description": "A city.",
        "interests": "intelligent public lighting\n" + "x" * 250,
        "offers": "",
    }
    r = demo.post("/app/profiles/eindhoven/edit", data=data)
    assert r.status_code == 422
    errors = dict(re.findall(r'<ul class="field-error" id="([a-z_]+)-error">(.*?)</ul>', r.text, re.S))
    assert "ISO 3166-1" in errors["country"]
    assert "line 2" in errors["interests"] and "200 characters" in errors["interests"]
    assert 'id="country" name="country" value="XX"' in r.text and 'aria-invalid="true"' in r.text
    # the rule about the whole profile is checked once the fields pass, and placed on its field too
    r = demo.post("/app/profiles/eindhoven/edit", data=data | {"country": "NL", "interests": "living labs"})
    assert r.status_code == 422
    assert (
        "must be empty for a city"
        in dict(re.findall(r'<ul class="field-error" id="([a-z_]+)-error">(.*?)</ul>', r.text, re.S))["org_type"]
    )
    assert demo.get("/profiles/eindhoven", headers=keys.auth("member")).json()["version"] == int(version)


def test_a_valid_edit_is_saved_and_reaches_the_live_index(demo, keys):
    csrf = sign_in(demo, keys.member)
    form = demo.get("/app/profiles/eindhoven/edit").text
    current = demo.get("/profiles/eindhoven", headers=keys.auth("member")).json()
    data = {
        "csrf": csrf,
        "version": hidden(form, "version"),
        "kind": "city",
        "name": "Eindhoven",
        "country": "nl",
        "bloc": "EU",
        "org_type": "",
        "city": "",
        "description": current["description"],
        "interests": "\n".join(current["interests"] + ["hydrogen buses"]),
        "offers": "\n".join(current["offers"]),
    }
    r = demo.post("/app/profiles/eindhoven/edit", data=data, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/profiles/eindhoven"
    page = demo.get("/app/profiles/eindhoven").text
    assert "Saved Eindhoven (version 2)" in page and "hydrogen buses" in page
    stored = demo.get("/profiles/eindhoven", headers=keys.auth("member")).json()
    assert stored["interests"][-1] == "hydrogen buses" and stored["country"] == "NL" and stored["org_type"] is None
    assert "hydrogen buses" in demo.app.state.live.profile_text("eindhoven").interests


# suggestions


def test_suggestions_show_why_and_accept_reject_and_undo_work(demo, keys):
    csrf = sign_in(demo, keys.member)
    page = demo.get("/app/profiles/eindhoven/suggestions?target=organisation&include_partners=true")
    assert page.status_code == 200
    card = page.text.split('id="s-philips-lighting"')[1].split('<li class="card suggestion"')[0]
    assert "intelligent <mark>public</mark> <mark>lighting</mark>" in card  # the words its need shares with the offer
    assert "already a partner" in card and "Smart public lighting" in card
    for part in ("dense", "lexical", "forward", "backward"):
        assert f"<dt>{part}</dt>" in page.text

    page = demo.get("/app/profiles/eindhoven/suggestions?target=organisation")
    first = re.search(r'<li class="card suggestion" id="s-([^"]+)"', page.text).group(1)
    back = "/app/profiles/eindhoven/suggestions?target=organisation"
    r = demo.post(
        f"/app/profiles/eindhoven/suggestions/{first}/accept", data={"csrf": csrf, "back": back}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == back
    after = demo.get(back).text
    # a member's accept is a proposal: the suggestion stays, marked, until the other side answers
    assert "Proposed a partnership of Eindhoven with" in after and "proposal sent" in after
    card = after.split(f'id="s-{first}"')[1].split('<li class="card suggestion"')[0]
    assert "waiting for" in card and f'action="/app/profiles/eindhoven/partnerships/{first}/remove"' in card
    assert f'action="/app/profiles/eindhoven/suggestions/{first}/accept"' not in card
    r = demo.post(f"/app/profiles/eindhoven/partnerships/{first}/remove", data={"csrf": csrf, "back": back})
    assert "was withdrawn" in r.text and "proposal sent" not in r.text and f'id="s-{first}"' in r.text

    r = demo.post(
        f"/app/profiles/eindhoven/suggestions/{first}/reject",
        data={"csrf": csrf, "back": back, "reason": "  works with a rival  "},
    )
    assert "(reason: works with a rival)" in r.text and f'id="s-{first}"' not in r.text
    with demo.app.state.sessions() as session:
        assert session.scalar(select(Exclusion.reason)) == "works with a rival"
    assert "works with a rival" in demo.get("/app/profiles/eindhoven").text
    demo.post(f"/app/profiles/eindhoven/exclusions/{first}/remove", data={"csrf": csrf, "back": back})
    assert count(demo.app, Exclusion) == 0


def test_suggestion_filters_are_checked_like_the_api(demo, keys):
    sign_in(demo, keys.manager)
    page = demo.get("/app/profiles/eindhoven/suggestions?target=organisation&country=kr&org_type=")
    assert page.status_code == 200
    ids = re.findall(r'<li class="card suggestion" id="s-([^"]+)"', page.text)
    assert ids and all(i in {"doosan", "icec", "seoul-digital-foundation", "seoul-innovation-park"} for i in ids)
    bad = demo.get("/app/profiles/eindhoven/suggestions?target=organisation&country=XX&diversity=3")
    assert bad.status_code == 422 and 'id="country-error"' in bad.text and 'id="diversity-error"' in bad.text
    assert demo.get("/app/profiles/eindhoven/suggestions?target=village").status_code == 422


def member_headers(app, profile_id: str) -> dict[str, str]:
    with session_scope(app.state.sessions) as session:
        return {"Authorization": f"Bearer {create_key(session, role=Role.MEMBER, profile_id=profile_id)[0]}"}


def test_proposals_waiting_for_a_citys_answer_are_shown_and_answered(demo, keys):
    busan, suwon = member_headers(demo.app, "busan"), member_headers(demo.app, "suwon")
    for headers, side in ((busan, "busan"), (suwon, "suwon")):
        assert (
            demo.post(f"/profiles/{side}/suggestions/eindhoven/accept", headers=headers).json()["state"] == "proposed"
        )
    csrf = sign_in(demo, keys.member)
    page = demo.get("/app/profiles/eindhoven").text
    waiting = page.split('id="waiting-h"')[1].split("</section>")[0]
    assert "Proposals waiting for Eindhoven’s answer" in page and "Busan" in waiting and "Suwon" in waiting
    assert 'action="/app/profiles/eindhoven/suggestions/busan/accept"' in waiting
    assert 'action="/app/profiles/eindhoven/partnerships/suwon/remove"' in waiting
    # the suggestion stays, marked, and offers to confirm
    card = (
        demo.get("/app/profiles/eindhoven/suggestions")
        .text.split('id="s-busan"')[1]
        .split('<li class="card suggestion"')[0]
    )
    assert "proposed a partnership" in card and "Confirm" in card

    back = "/app/profiles/eindhoven"
    r = demo.post("/app/profiles/eindhoven/suggestions/busan/accept", data={"csrf": csrf, "back": back})
    assert "Busan is now a partner of Eindhoven" in r.text
    assert "Busan" not in r.text.split('id="waiting-h"')[1].split("</section>")[0]
    partners = r.text.split('id="partners-h"')[1].split("</section>")[0]
    assert 'action="/app/profiles/eindhoven/partnerships/busan/remove"' in partners  # both members agreed to it
    assert 'action="/app/profiles/eindhoven/partnerships/seoul/remove"' not in partners  # the programme's
    assert "only a manager may end it" in partners
    r = demo.post("/app/profiles/eindhoven/partnerships/suwon/remove", data={"csrf": csrf, "back": back})
    assert "The proposal of Suwon to Eindhoven was declined." in r.text and 'id="waiting-h"' not in r.text

    # an exclusion the other side made shows that it exists: not its reason, and no way to remove it
    demo.post("/profiles/suwon/exclusions", json={"excluded": "eindhoven", "reason": "secret grudge"}, headers=suwon)
    excluded = demo.get(back).text.split('id="excl-h"')[1].split("</section>")[0]
    assert "excluded by Suwon" in excluded and "secret grudge" not in excluded
    assert 'action="/app/profiles/eindhoven/exclusions/suwon/remove"' not in excluded


# cohorts


def test_cohort_board_pairs_explains_and_accepts(demo, keys):
    csrf = sign_in(demo, keys.manager)
    board = demo.get(f"/app/cohorts/{COHORT}?partnerships=ignore")
    assert board.status_code == 200
    pairs = {
        frozenset(p.split("|")) for p in re.findall(r'<input type="hidden" name="pair" value="([^"]+)">', board.text)
    }
    assert pairs == REAL
    assert "Each city’s regret" in board.text and "What Eindhoven asks for" in board.text
    locked = demo.get(f"/app/cohorts/{COHORT}?partnerships=ignore&lock_a=eindhoven&lock_b=busan&forbid=barcelona|busan")
    pairs = {frozenset(p.split("|")) for p in re.findall(r'name="pair" value="([^"]+)"', locked.text)}
    assert frozenset(("eindhoven", "busan")) in pairs and frozenset(("barcelona", "busan")) not in pairs
    impossible = demo.get(f"/app/cohorts/{COHORT}?lock=eindhoven|tampere")
    assert impossible.status_code == 422 and 'class="flash flash-error"' in impossible.text
    assert "would take Busan beside Seoul" in locked.text and 'name="allow_second_partner"' in locked.text
    chosen = {"csrf": csrf, "pair": ["eindhoven|busan", "barcelona|seoul"], "back": f"/app/cohorts/{COHORT}"}
    refused = demo.post(f"/app/cohorts/{COHORT}/accept", data=chosen)
    assert "Nothing was accepted" in refused.text and "already has" in refused.text
    with demo.app.state.sessions() as session:
        assert session.scalar(select(Partnership).where(Partnership.a == "busan", Partnership.b == "eindhoven")) is None
    r = demo.post(f"/app/cohorts/{COHORT}/accept", data=chosen | {"allow_second_partner": "yes"})
    assert "Accepted 2 pairs" in r.text and "(2 new)" in r.text
    with demo.app.state.sessions() as session:
        row = session.scalar(select(Partnership).where(Partnership.a == "busan", Partnership.b == "eindhoven"))
        assert (row.programme, row.cohort_id) == ("World Cities 2017-18", COHORT)


def test_the_board_shows_the_programmes_agreed_pairs_locked_and_why_a_city_is_left_out(demo, keys):
    """The demo's pairings are filed under programme "World Cities 2017-18", the cohort is named
    otherwise: the board still shows them agreed and locked, and never a regret it does not have."""
    sign_in(demo, keys.manager)
    board = demo.get(f"/app/cohorts/{COHORT}")
    assert "Programme: <strong>World Cities 2017-18</strong>" in board.text
    pairs = {frozenset(p.split("|")) for p in re.findall(r'name="pair" value="([^"]+)"', board.text)}
    assert pairs == REAL and len(re.findall(r'<p class="tags">\s*<span class="badge">agreed</span>', board.text)) == 4
    assert 'name="allow_second_partner"' not in board.text
    strict = demo.get(f"/app/cohorts/{COHORT}?partnerships=ignore&min_score=0.99")
    assert 'step="0.01"' in strict.text
    assert "no allowed candidate reaches the minimum score 0.99" in strict.text
    assert "Every city got its own best candidate." not in strict.text


def test_pairing_csv(demo, keys):
    sign_in(demo, keys.manager)
    r = demo.get(f"/app/cohorts/{COHORT}/pairing.csv?partnerships=ignore")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert {frozenset((row["a"], row["b"])) for row in rows} == REAL
    assert all(0 < float(row["score"]) <= 1 and row["locked"] == "false" for row in rows)


# runs


def test_runs_start_a_rerank_follow_it_and_show_the_diff(demo, keys):
    csrf = sign_in(demo, keys.manager)
    assert "No run yet" in demo.get("/app/runs").text
    r = demo.post("/app/runs", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    run_url = r.headers["location"]
    run_id = int(run_url.rsplit("/", 1)[1])
    deadline = time.monotonic() + 120
    while (state := demo.get(f"/jobs/{run_id}", headers=keys.auth("manager")).json()["state"]) not in (
        "succeeded",
        "failed",
    ):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert state == "succeeded"
    first = demo.get(run_url).text
    assert "This is the first run: there is no earlier run to compare it with." in first
    assert "since run #" not in first
    demo.post("/app/profiles/eindhoven/suggestions/fontys/reject", data={"csrf": csrf})
    second = rerank(demo.app.state.settings, demo.app.state.sessions, RerankParams())
    page = demo.get(f"/app/runs/{second.id}")
    assert f"What changed since run #{second.id - 1}" in page.text
    assert "was #" in page.text and "Fontys University of Applied Sciences" in page.text
    only = demo.get(f"/app/runs/{second.id}?profile=eindhoven").text
    assert re.findall(r'<h3><a href="/app/profiles/([^"]+)">', only) and set(
        re.findall(r'<h3><a href="/app/profiles/([^"]+)">', only)
    ) == {"eindhoven"}

    # who started each run: the signed-in key's label for the page's, the user for the command line's
    with demo.app.state.sessions() as session:
        key_id = session.scalar(select(ApiKey.id).where(ApiKey.key_hash == hash_secret(keys.manager)))
    by = dict(
        re.findall(r'<a href="/app/runs/(\d+)">.*?<td class="by"[^>]*>([^<]*)</td>', demo.get("/app/runs").text, re.S)
    )
    assert by[str(run_id)] == f"key-{key_id}"
    assert by[str(second.id)].endswith("(command line)")
    assert f"by key-{key_id}" in first


def test_current_suggestions_csv(demo, keys):
    sign_in(demo, keys.manager)
    assert demo.get("/app/runs/current/suggestions.csv").status_code == 404
    run = rerank(demo.app.state.settings, demo.app.state.sessions, RerankParams(k=5))
    r = demo.get("/app/runs/current/suggestions.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == ["profile", "target", "rank", "other", "score"]
    assert len(rows) - 1 == run.counts["suggestions"]
    eindhoven = [row for row in rows[1:] if row[0] == "eindhoven" and row[1] == "city"]
    assert [row[2] for row in eindhoven] == [str(i) for i in range(1, len(eindhoven) + 1)]


# import


def test_import_lists_every_csv_problem_and_stores_nothing(demo, keys):
    csrf = sign_in(demo, keys.manager)
    before = count(demo.app, Profile)
    sheet = (
        "id,kind,name,country,bloc,org_type,city,description,interests,offers\n"
        "newtown,city,Newtown,NL,EU,,,A new town.,parks;harbours,\n"
        "oldtown,city,Oldtown,XX,EU,,,An old town.,markets,\n"
        "lab,organisation,Lab,NL,EU,bakery,,A lab.,,sensors\n"
    )
    r = demo.post("/app/import", data={"csrf": csrf}, files={"file": ("towns.csv", sheet.encode(), "text/csv")})
    assert r.status_code == 422
    assert "Nothing from towns.csv was stored" in r.text
    rows = re.findall(r"<th scope=\"row\">([^<]+)</th><td[^>]*><code class=\"value\">([^<]+)</code>", r.text)
    assert rows == [("row 3, column country", "XX"), ("row 4, column org_type", "bakery")]
    assert "Confirm import" not in r.text
    assert count(demo.app, Profile) == before


def test_import_of_a_good_bundle_is_previewed_then_reports_what_changed(demo, keys):
    csrf = sign_in(demo, keys.manager)
    bundle = {
        "format": "twinning.bundle/1",
        "profiles": [
            {
                "id": "newtown",
                "kind": "city",
                "name": "Newtown",
                "country": "NL",
                "bloc": "EU",
                "description": "A new town by the sea.",
                "interests": ["harbour renewal"],
            }
        ],
    }
    r = demo.post(
        "/app/import",
        data={"csrf": csrf},
        files={"file": ("new.json", json.dumps(bundle).encode(), "application/json")},
    )
    assert r.status_code == 200 and "1 new, 0 changed and 0 unchanged profiles" in r.text
    assert demo.app.state.live.profile_text("newtown") is None
    fields = re.findall(r'name="([^"]+)" value="([^"]*)"', r.text[r.text.index('action="/app/import/confirm"') :])
    r = demo.post("/app/import/confirm", data=dict(fields))
    assert r.status_code == 200 and "new.json was imported: 1 new, 0 updated" in r.text
    assert demo.app.state.live.profile_text("newtown").name == "Newtown"
    r = demo.post("/app/import", data={"csrf": csrf}, files={"file": ("broken.json", b"{not json", "application/json")})
    assert r.status_code == 422 and "not valid JSON" in r.text


def test_bad_ids_numbers_and_control_characters_are_422_pages_not_500s(demo, keys):
    csrf = sign_in(demo, keys.manager)
    for path in (
        "/app/profiles?q=lab%00",
        "/app/profiles/eind%00hoven",
        "/app/profiles/Bad%20Id/suggestions",
        "/app/cohorts/Bad%20Id",
        f"/app/runs/{2**31}",
        f"/app/runs/{2**63}",
    ):
        r = demo.get(path)
        assert r.status_code == 422 and r.headers["content-type"].startswith("text/html"), (path, r.text[:200])
    assert demo.get(f"/app/runs/{2**31 - 1}").status_code == 404
    deep = b'{"format": "twinning.bundle/1", "profiles": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    r = demo.post("/app/import", data={"csrf": csrf}, files={"file": ("deep.json", deep, "application/json")})
    assert r.status_code == 422 and "nested too deeply" in r.text
    huge = "id,kind,name,country,bloc,description,interests\nx,city,X,NL,EU," + "d" * (128 * 1024 + 1) + ",parks\n"
    r = demo.post("/app/import", data={"csrf": csrf}, files={"file": ("huge.csv", huge.encode(), "text/csv")})
    assert r.status_code == 422 and "field larger than field limit" in r.text
    r = demo.post("/app/profiles/eindhoven/suggestions/seoul/reject", data={"csrf": csrf, "reason": "not\x00now"})
    assert "must not contain control characters" in r.text and count(demo.app, Exclusion) == 0


def test_an_edit_form_with_a_version_that_is_not_ascii_digits_is_refused(demo, keys):
    csrf = sign_in(demo, keys.member)
    current = demo.get("/profiles/eindhoven", headers=keys.auth("member")).json()
    data = {
        "csrf": csrf,
        "version": "²",
        "kind": "city",
        "name": "Eindhoven",
        "country": "NL",
        "bloc": "EU",
        "org_type": "",
        "city": "",
        "description": current["description"],
        "interests": "\n".join(current["interests"]),
        "offers": "\n".join(current["offers"]),
    }
    r = demo.post("/app/profiles/eindhoven/edit", data=data)
    assert r.status_code == 422 and "lost the version" in r.text
    assert demo.get("/profiles/eindhoven", headers=keys.auth("member")).json()["version"] == current["version"]


def test_a_batch_list_marks_the_profiles_scored_live_since_its_run(demo, keys):
    sign_in(demo, keys.manager)
    rerank(demo.app.state.settings, demo.app.state.sessions, RerankParams())
    page = demo.get("/app/profiles/seoul/suggestions")
    assert "Ranking from re-rank #1" in page.text and "new since the run" not in page.text
    assert demo.post("/profiles", json=NEW_CITY, headers=keys.auth("admin")).status_code == 201
    page = demo.get("/app/profiles/seoul/suggestions")
    assert "Ranking from re-rank #1" in page.text
    card = page.text[page.text.index('id="s-lisbon"') :]
    assert "new since the run" in card[: card.index("</li>")]
    assert page.text.count("new since the run") == 1
