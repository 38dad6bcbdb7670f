"""A stored suggestion's explanation in a few bytes: what the API and the pages show, nothing repeated.

A run stores each profile's phrases once, as it scored them (`RunPhrases`); a suggestion's detail
quotes them by position. The rest of the detail is numbers and short words (theme ids, shared
terms). The recommender rounds the numbers to six decimals (similarities to four), so each is kept
exactly as whole millionths in an int32; −0.0, which a zero feature times a negative weight gives,
is the one int32 no millionth needs. A suggestion with any other number keeps all of its numbers
as float64: whatever is stored reads back exactly. Reasons are not stored: they are worded at read
time from these parts.

Layout, little-endian:

    header    B version (1) · B flags · B learned (features) · B matches · B themes
    numbers   int32 millionths (float64 with FLOAT64): dense, lexical, forward, [backward], [handset],
              each feature's value, each feature's contribution, each match's similarity
    names     B per learned feature: its position in `FEATURE_NAMES`
    matches   per match: H need's position · H match's position (each in its side's phrases) · B bits
    words     UTF-8, each ended by NUL: the shared themes, then the shared terms
"""

import math
import struct
from dataclasses import dataclass

from matching.explain import ROLE_NAMES, PhraseMatch
from matching.recommend import Suggestion
from matching.vectors import ProfileVectors

__all__ = ["FEATURE_NAMES", "ROLE_LETTERS", "RunPhraseList", "encode_detail", "decode_detail"]

VERSION = 1
# append only: a stored detail names its features by their position here
FEATURE_NAMES = (
    "fit",
    "lexical",
    "themes",
    "popularity",
    "language",
    "best_needs",
    "reverse_fit",
    "local",
    "partner_city",
    "national",
)
_NAME_AT = {name: i for i, name in enumerate(FEATURE_NAMES)}

_HEADER = struct.Struct("<5B")
_MATCH = struct.Struct("<HHB")
# flags
_BACKWARD, _HANDSET, _FLOAT64 = 1, 2, 4
# a match's bits
_BACKWARD_MATCH, _CLOSE = 1, 2

ROLE_LETTERS = {"interest": "i", "offer": "o", "description": "d"}
_ROLE_OF = {letter: role for role, letter in ROLE_LETTERS.items()}
_LETTER_OF_CODE = {int(code): ROLE_LETTERS[name] for code, name in ROLE_NAMES.items()}


@dataclass(frozen=True)
class RunPhraseList:
    """One profile's phrases as a run quoted them: texts, and each one's role as a letter (`ROLE_LETTERS`)."""

    texts: tuple[str, ...]
    roles: str

    @classmethod
    def of(cls, vectors: ProfileVectors) -> "RunPhraseList":
        """The phrases of a profile's indexed vectors, in their order: the positions its explanations quote."""
        return cls(tuple(vectors.texts), "".join(_LETTER_OF_CODE[code] for code in vectors.roles.tolist()))

    def position(self, text: str, role: str) -> int:
        """Where the phrase `text` of `role` is; ValueError if the profile has no such phrase."""
        letter = ROLE_LETTERS[role]
        for i, (t, r) in enumerate(zip(self.texts, self.roles)):
            if t == text and r == letter:
                return i
        raise ValueError(f"no {role} phrase {text!r} among the profile's phrases")

    def role_at(self, position: int) -> str:
        return _ROLE_OF[self.roles[position]]


_NEGATIVE_ZERO = -(2**31)  # below every millionth an int32 holds otherwise


def _millionths(values: list[float]) -> list[int] | None:
    """The values as whole millionths if each is exactly one (as the recommender rounds them), else None."""
    out = []
    for v in values:
        if v == 0 and math.copysign(1.0, v) < 0:
            out.append(_NEGATIVE_ZERO)
            continue
        if not -2147.483647 <= v <= 2147.483647:  # also false for NaN
            return None
        m = round(v * 1_000_000)
        if m / 1_000_000 != v:
            return None
        out.append(m)
    return out


def _from_millionths(m: int) -> float:
    return -0.0 if m == _NEGATIVE_ZERO else m / 1_000_000


def encode_detail(s: Suggestion, *, asking: RunPhraseList, candidate: RunPhraseList) -> bytes:
    """The detail of suggestion `s` to the profile whose phrases are `asking`, quoting both sides' phrases
    by position; ValueError for a quoted phrase either side lacks, a feature `FEATURE_NAMES` lacks, or a
    word holding a NUL."""
    if list(s.contributions) != list(s.features):
        raise ValueError("a suggestion's contributions must name its features, in their order")
    unknown = [name for name in s.features if name not in _NAME_AT]
    if unknown:
        raise ValueError(f"features missing from FEATURE_NAMES: {unknown}")
    names = [_NAME_AT[name] for name in s.features]
    flags = (_BACKWARD if s.backward is not None else 0) | (_HANDSET if s.handset is not None else 0)
    numbers = [s.dense, s.lexical, s.forward]
    numbers += [v for v in (s.backward, s.handset) if v is not None]
    numbers += list(s.features.values()) + list(s.contributions.values()) + [m.similarity for m in s.matches]
    whole = _millionths(numbers)
    if whole is None:
        flags |= _FLOAT64
        packed = struct.pack(f"<{len(numbers)}d", *numbers)
    else:
        packed = struct.pack(f"<{len(whole)}i", *whole)
    matches = b"".join(_match_bytes(m, asking, candidate) for m in s.matches)
    words = [*s.shared_themes, *s.shared_terms]
    if any("\0" in w for w in words):
        raise ValueError("a shared theme or term holds a NUL, which ends a stored word")
    packed_words = "".join(w + "\0" for w in words).encode()
    header = _HEADER.pack(VERSION, flags, len(names), len(s.matches), len(s.shared_themes))
    return header + packed + bytes(names) + matches + packed_words


def _match_bytes(m: PhraseMatch, asking: RunPhraseList, candidate: RunPhraseList) -> bytes:
    backward = m.direction == "backward"
    needer, server = (candidate, asking) if backward else (asking, candidate)
    bits = (_BACKWARD_MATCH if backward else 0) | (_CLOSE if m.close else 0)
    return _MATCH.pack(needer.position(m.need, m.need_role), server.position(m.match, m.match_role), bits)


def decode_detail(
    detail: bytes, *, key: str, score: float, asking: RunPhraseList, candidate: RunPhraseList
) -> Suggestion:
    """The suggestion of `key` with `score` that `encode_detail` stored, quoting the same phrase lists."""
    version, flags, learned, n_matches, n_themes = _HEADER.unpack_from(detail)
    if version != VERSION:
        raise ValueError(f"stored detail of format {version}, not {VERSION}")
    count = 3 + bool(flags & _BACKWARD) + bool(flags & _HANDSET) + 2 * learned + n_matches
    at = _HEADER.size
    if flags & _FLOAT64:
        numbers = list(struct.unpack_from(f"<{count}d", detail, at))
        at += 8 * count
    else:
        numbers = [_from_millionths(m) for m in struct.unpack_from(f"<{count}i", detail, at)]
        at += 4 * count
    dense, lexical, forward = numbers[:3]
    rest = iter(numbers[3:])
    backward = next(rest) if flags & _BACKWARD else None
    handset = next(rest) if flags & _HANDSET else None
    names = [FEATURE_NAMES[i] for i in detail[at : at + learned]]
    at += learned
    features = {name: next(rest) for name in names}
    contributions = {name: next(rest) for name in names}
    matches = []
    for similarity in rest:
        need, match, bits = _MATCH.unpack_from(detail, at)
        at += _MATCH.size
        backward_match = bool(bits & _BACKWARD_MATCH)
        needer, server = (candidate, asking) if backward_match else (asking, candidate)
        matches.append(
            PhraseMatch(
                need=needer.texts[need],
                need_role=needer.role_at(need),
                match=server.texts[match],
                match_role=server.role_at(match),
                similarity=similarity,
                direction="backward" if backward_match else "forward",
                close=bool(bits & _CLOSE),
            )
        )
    words = detail[at:].decode().split("\0")[:-1]
    return Suggestion(
        key=key,
        score=score,
        dense=dense,
        lexical=lexical,
        forward=forward,
        backward=backward,
        matches=matches,
        shared_themes=words[:n_themes],
        shared_terms=words[n_themes:],
        handset=handset,
        features=features,
        contributions=contributions,
    )
