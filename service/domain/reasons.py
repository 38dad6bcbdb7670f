"""A suggestion's learned score in words: its parts and priors, then the close phrase matches.

What each line claims can be checked on the two profiles (places, languages from CLDR, the
quoted phrases); the signed number is the feature's share of the score's sum.
"""

from matching.features import BINARY
from matching.recommend import Suggestion
from matching.scoring import Kind
from service.live.index import LiveIndex
from service.live.places import country_name, language_name, official_languages
from service.live.profiles_text import ProfileText

__all__ = ["reasons"]

_MIN_REASON = 0.05  # a contribution smaller than this is not worth a line


def reasons(live: LiveIndex, asking: ProfileText | None, s: Suggestion) -> list[str]:
    """The reasons of one suggestion to `asking`, largest contribution first."""
    text = live.profile_text(s.key)
    shares: list[tuple[float, str]] = []
    for name, share in s.contributions.items():
        if abs(share) < _MIN_REASON:
            continue
        if name in BINARY:
            if not s.features.get(name):
                continue  # a prior that does not hold says nothing about this pair
            line = _place_reason(live, asking, text, name)
        else:
            line = _score_reason(asking, text, name, s.features.get(name, 0.0), share)
        shares.append((share, f"{line}: {share:+.2f}"))
    lines = [line for _, line in sorted(shares, key=lambda item: -abs(item[0]))]
    close = [m for m in s.matches if m.close]
    lines += [f"“{m.need}” ↔ “{m.match}” ({m.similarity:.2f})" for m in close[:2]]
    if s.matches and not close:
        lines.append("no close phrase match")
    return lines


def _score_reason(asking: ProfileText | None, text: ProfileText | None, name: str, value: float, share: float) -> str:
    """A score feature in words; a negative share says the candidate does less than the list's others."""
    if name == "popularity":
        kind = "cities" if asking is None or asking.kind == Kind.CITY else "organisations"
        return f"popular with most {kind}" if share < 0 else "stands out above its usual score"
    if name == "fit":
        collaborator = asking is not None and text is not None and asking.kind != text.kind
        what = "covers its needs" if collaborator else "serves both sides' interests"
    elif name == "best_needs":
        what = "serves its best-served needs"
    elif name == "reverse_fit":
        what = (
            "the city asks for what it offers"
            if text is not None and text.kind == Kind.ORGANISATION
            else "it offers what the city asks for"
        )
    elif name == "lexical":
        return ("shares exact terms" if share >= 0 else "shares fewer exact terms than most") + f" (TF-IDF {value:.2f})"
    else:
        return ("themes in common" if share >= 0 else "fewer themes in common than most") + f" ({int(value)})"
    return (what if share >= 0 else f"{what} less than most") + f" ({value:.2f})"


def _place_reason(live: LiveIndex, asking: ProfileText | None, text: ProfileText | None, name: str) -> str:
    if asking is None or text is None:
        return name
    org, city = (text, asking) if text.kind == Kind.ORGANISATION else (asking, text)
    if name == "language":
        shared = sorted(official_languages(asking.country) & official_languages(text.country))
        return "both speak " + " and ".join(language_name(code) for code in shared)
    if name == "local":
        return f"based in {city.name}, the asking city" if asking is city else f"{city.name} is its home city"
    if name == "partner_city":
        home = live.profile_text(org.city) if org.city else None
        return f"based in {home.name if home else org.city}, a partner city of {city.name}"
    return f"based in the same country ({country_name(org.country)})"
