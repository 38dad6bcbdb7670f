"""Marking the words two matched phrases share, so a reader sees at a glance why they were paired."""

import re

from markupsafe import Markup, escape
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

__all__ = ["word_stem", "shared_stems", "mark_shared"]

# hyphenated words count part by part: "lighting-as-a-service" shares "service" with "services"
_WORD = re.compile(r"\w+(?:['’]\w+)*")
_SUFFIXES = (("ies", "y"), ("ing", ""), ("ion", ""), ("ed", ""), ("es", ""), ("s", ""), ("al", ""))


def word_stem(word: str) -> str:
    """A crude stem: enough to see "lighting" and "light", "cities" and "city" as the same word."""
    w = word.lower().replace("’", "'")
    for suffix, replacement in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)] + replacement
            break
    # "service" and "services" both end as "servic"
    return w[:-1] if w.endswith("e") and len(w) > 4 else w


def _content_stems(text: str) -> set[str]:
    return {word_stem(m) for m in _WORD.findall(text) if len(m) > 2 and m.lower() not in ENGLISH_STOP_WORDS}


def shared_stems(a: str, b: str) -> set[str]:
    return _content_stems(a) & _content_stems(b)


def mark_shared(text: str, other: str) -> Markup:
    """`text`, escaped, with each content word it shares with `other` wrapped in <mark>."""
    stems = shared_stems(text, other)
    out, at = [], 0
    for m in _WORD.finditer(text):
        if len(m.group()) > 2 and m.group().lower() not in ENGLISH_STOP_WORDS and word_stem(m.group()) in stems:
            out.append(escape(text[at : m.start()]))
            out.append(Markup("<mark>{}</mark>").format(m.group()))
            at = m.end()
    out.append(escape(text[at:]))
    return Markup("").join(out)
