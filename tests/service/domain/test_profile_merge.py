"""The three-way merge of two profile edits: who changed what survives, only true conflicts are asked."""

from hypothesis import given
from hypothesis import strategies as st

from service.domain.profile_merge import LIST_FIELDS, SCALAR_FIELDS, merge_profiles

WORDS = ["living labs", "Living Labs", "smart lighting", "e-voting", "hydrogen buses", "sensors", "open data"]
phrases = st.lists(st.sampled_from(WORDS), unique_by=str.casefold, max_size=5)
scalar = st.sampled_from(["a", "b", "c", None])
profiles = st.fixed_dictionaries(
    {**{name: scalar for name in SCALAR_FIELDS}, **{name: phrases for name in LIST_FIELDS}}
)


def keys(items):
    return {p.casefold() for p in items}


@given(profiles, profiles)
def test_merging_with_an_unchanged_side_gives_the_other_side(base, other):
    for merge in (merge_profiles(base, other, base), merge_profiles(base, base, other)):
        assert merge.conflicts == []
        assert merge.resolved({}) == other


@given(profiles, profiles)
def test_the_same_change_on_both_sides_is_no_conflict(base, both):
    merge = merge_profiles(base, both, both)
    assert merge.conflicts == [] and merge.resolved({}) == both


@given(profiles, profiles, profiles, st.data())
def test_non_conflicting_changes_of_both_survive(base, mine_values, theirs_values, data):
    """Each side changes its own scalar fields, and adds and removes phrases: all of it is in the result."""
    mine_fields = set(data.draw(st.sets(st.sampled_from(SCALAR_FIELDS))))
    theirs_fields = set(SCALAR_FIELDS) - mine_fields
    mine = {**base, **{f: mine_values[f] for f in mine_fields}}
    theirs = {**base, **{f: theirs_values[f] for f in theirs_fields}}
    for name in LIST_FIELDS:
        mine[name], theirs[name] = mine_values[name], theirs_values[name]
    merge = merge_profiles(base, mine, theirs)
    assert merge.conflicts == []
    result = merge.resolved({})
    for f in SCALAR_FIELDS:
        assert result[f] == (mine if f in mine_fields else theirs)[f]
    for name in LIST_FIELDS:
        b, m, t = keys(base[name]), keys(mine[name]), keys(theirs[name])
        assert keys(result[name]) == (b - (b - m) - (b - t)) | (m - b) | (t - b)
        assert len(result[name]) == len(keys(result[name]))  # no phrase twice


@given(profiles, profiles, profiles)
def test_a_conflict_is_a_scalar_both_changed_differently_and_is_chosen(base, mine, theirs):
    merge = merge_profiles(base, mine, theirs)
    assert merge.conflicts == [
        f for f in SCALAR_FIELDS if mine[f] != base[f] and theirs[f] != base[f] and mine[f] != theirs[f]
    ]
    for side, values in (("mine", mine), ("theirs", theirs)):
        result = merge.resolved(dict.fromkeys(merge.conflicts, side))
        assert all(result[f] == values[f] for f in merge.conflicts)
    swapped = merge_profiles(base, theirs, mine)
    assert swapped.conflicts == merge.conflicts
    for name in LIST_FIELDS:
        assert keys(swapped.resolved(dict.fromkeys(swapped.conflicts, "mine"))[name]) == keys(
            merge.resolved(dict.fromkeys(merge.conflicts, "mine"))[name]
        )


def test_the_lost_offer_of_the_other_tab_is_kept_and_each_side_is_named():
    """The case of issue 18: one tab renames the profile, the other adds an offer; both survive."""
    base = {"name": "Eindhoven", "description": "A city.", "interests": ["living labs"], "offers": ["smart lighting"]}
    mine = base | {"offers": ["smart lighting", "mobile voting pilots"], "interests": []}
    theirs = base | {"name": "Eindhoven (Brainport)", "offers": ["smart lighting", "open data portal"]}
    merge = merge_profiles(base, mine, theirs)
    result = merge.resolved({})
    assert result["name"] == "Eindhoven (Brainport)" and result["interests"] == []
    assert result["offers"] == ["smart lighting", "open data portal", "mobile voting pilots"]
    assert merge.fields["name"].changed_by == "theirs" and merge.fields["interests"].changed_by == "mine"
    assert merge.fields["offers"].added == {"mine": ["mobile voting pilots"], "theirs": ["open data portal"]}
    assert merge.fields["interests"].removed == {"mine": ["living labs"]}


def test_without_a_base_every_difference_is_a_conflict():
    merge = merge_profiles(None, {"name": "A", "offers": ["x"]}, {"name": "B", "offers": ["x"]})
    assert merge.conflicts == ["name"]
    assert merge.resolved({"name": "theirs"})["name"] == "B"
