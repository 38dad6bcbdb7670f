"""Where a profile is, as the learned ranker's place features read it: country, official languages
(CLDR data through `babel`, never a hand-written table) and an organisation's home city."""

from collections.abc import Iterable, Mapping
from functools import cache

import pycountry
from babel import Locale
from babel.languages import get_official_languages

from matching.features import Place
from matching.scoring import Kind
from service.live.profiles_text import ProfileText

__all__ = [
    "official_languages",
    "language_name",
    "country_name",
    "country_code",
    "place_of",
    "home_city",
    "partner_cities",
]


@cache
def official_languages(country: str) -> frozenset[str]:
    """The country's official languages, de jure and de facto (English in the United States),
    national only: regional ones (Catalan in Spain) would make most neighbours share one."""
    return frozenset(get_official_languages(country.upper(), regional=False, de_facto=True))


@cache
def language_name(code: str) -> str:
    """A language's English name ("Portuguese" for "pt"); the code itself when CLDR has none."""
    try:
        return Locale.parse(code).get_display_name("en") or code
    except (ValueError, LookupError):
        return code


@cache
def country_name(code: str) -> str:
    """A country's English name from CLDR ("Netherlands" for "NL")."""
    return Locale("en").territories.get(code.upper(), code)


@cache
def _countries_by_name() -> dict[str, str]:
    # CLDR's territories hold regions too ("150" Europe, "EU", "UN"): countries are the ISO codes pycountry knows
    return {
        name.casefold(): code
        for code, name in Locale("en").territories.items()
        if pycountry.countries.get(alpha_2=code) is not None
    }


def country_code(text: str) -> str | None:
    """The ISO 3166-1 alpha-2 code a person means by a code in either case ("nl") or an English name
    ("Netherlands", "netherlands"); None for neither."""
    text = text.strip()
    if len(text) == 2 and pycountry.countries.get(alpha_2=text.upper()) is not None:
        return text.upper()
    return _countries_by_name().get(text.casefold())


def place_of(text: ProfileText) -> Place:
    return Place(country=text.country, languages=official_languages(text.country), city=text.city)


def home_city(text: ProfileText) -> str | None:
    """The city whose partnerships a profile's `partner_city` feature reads: a city's own, an organisation's home."""
    return text.id if text.kind == Kind.CITY else text.city


def partner_cities(partners: Iterable[str], texts: Mapping[str, ProfileText]) -> frozenset[str]:
    """The cities among a home city's partners (its partner organisations are not places)."""
    return frozenset(p for p in partners if (t := texts.get(p)) is not None and t.kind == Kind.CITY)
