"""ProfileVectors: one profile's phrases, their roles and texts, kept in step."""

import numpy as np
import pytest

from matching.types import PhraseRole
from matching.vectors import ProfileVectors


def test_from_phrases_keeps_interests_offers_then_description_in_order():
    v = np.eye(4, dtype=np.float64)
    p = ProfileVectors.from_phrases(["lighting"], ["water reuse", "BRT"], ["We are a port city."], v)
    assert p.texts == ("lighting", "water reuse", "BRT", "We are a port city.")
    assert p.roles.tolist() == [PhraseRole.INTEREST, PhraseRole.OFFER, PhraseRole.OFFER, PhraseRole.DESCRIPTION]
    assert p.vectors.dtype == np.float32 and p.vectors.flags["C_CONTIGUOUS"]
    assert len(p) == 4


@pytest.mark.parametrize(
    ("rows", "roles", "texts"),
    [
        pytest.param(2, 3, 3, id="vectors-short"),
        pytest.param(3, 2, 3, id="roles-short"),
        pytest.param(3, 3, 2, id="texts-short"),
        pytest.param(2, 2, 3, id="texts-long"),
    ],
)
def test_phrases_without_a_vector_role_or_text_each_are_rejected(rows, roles, texts):
    with pytest.raises(ValueError):
        ProfileVectors(np.zeros((rows, 4), np.float32), np.zeros(roles, np.int8), ("t",) * texts)
