"""Normalising and splitting profile text into the units that are embedded one by one."""

import re
import unicodedata

__all__ = ["normalise", "split_description"]

_SPACE = re.compile(r"\s+")
# A sentence ends at . ! ? ; or a bullet, followed by space; abbreviations like "i.e." are rare
# enough in profiles that a small mis-split costs less than a tokenizer dependency.
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\s*[\u2022\n]+\s*")
_MAX_CHUNK_WORDS = 40


def normalise(text: str) -> str:
    """Return text in NFC with runs of white space folded, so equal phrases hash equally."""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def split_description(text: str) -> list[str]:
    """Return the description's sentences, long ones cut into chunks of at most 40 words.

    Each chunk is embedded on its own so that one theme mentioned in a long description still
    meets a short phrase of another profile instead of being averaged away.
    """
    chunks: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        words = normalise(sentence).split(" ")
        for start in range(0, len(words), _MAX_CHUNK_WORDS):
            chunk = " ".join(words[start : start + _MAX_CHUNK_WORDS]).strip()
            if len(chunk) >= 3:
                chunks.append(chunk)
    return chunks
