"""The live phrase index as composable stages; `PhraseIndex` is the one to use."""

from matching.index.cascade import RESCORE_SIZE, rise_margin
from matching.index.exact import Scored
from matching.index.phrase_index import PhraseIndex

__all__ = ["PhraseIndex", "Scored", "RESCORE_SIZE", "rise_margin"]
