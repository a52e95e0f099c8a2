"""Hotlist matching: exact, wildcard, edit distance, ties, expiry, pattern validation."""

from __future__ import annotations

import pytest

from pipelines.recognition.hotlist import (
    Hotlist,
    HotlistEntry,
    HotlistMatch,
    best_match,
    levenshtein,
    validate_pattern,
)
from tests.plate_render import plate_specs


@pytest.mark.parametrize(
    ("a", "b", "max_distance", "expected"),
    [
        ("", "", None, 0),
        ("京A12345", "京A12345", None, 0),
        ("京A12345", "京A12346", None, 1),  # substitution
        ("京A12345", "京A1234", None, 1),  # deletion
        ("京A1234", "京A12345", None, 1),  # insertion
        ("京A12345", "沪B54321", None, 6),
        ("京A12345", "沪B54321", 2, 3),  # capped at max + 1
        ("京A12345", "京A1", 1, 2),  # length difference alone exceeds the cap
        ("kitten", "sitting", None, 3),
    ],
)
def test_levenshtein(a: str, b: str, max_distance: int | None, expected: int) -> None:
    assert levenshtein(a, b, max_distance) == expected


ENTRIES = [
    HotlistEntry("e-exact", "京A·12345"),
    HotlistEntry("e-wild-star", "沪B*9"),
    HotlistEntry("e-wild-q", "粤Z?23?港"),
    HotlistEntry("e-expired", "苏E55555", expires_at_ms=1_000),
    HotlistEntry("e-near", "浙A12345"),
]


@pytest.mark.parametrize(
    ("plate", "max_distance", "expected"),
    [
        ("京A12345", 1, ("e-exact", 0)),
        ("京A·12345", 0, ("e-exact", 0)),  # reads are normalised too
        ("京A12346", 1, ("e-exact", 1)),  # one character off, within the distance
        ("京A12346", 0, None),  # ... but not with distance 0
        ("京A1234", 1, ("e-exact", 1)),  # one character missing
        ("京A99999", 1, None),
        ("沪B9", 1, ("e-wild-star", 0)),  # * matches an empty run
        ("沪BX1239", 1, ("e-wild-star", 0)),
        ("沪BX1238", 1, None),  # wildcards take no edits
        ("粤Z1234港", 1, ("e-wild-q", 0)),
        ("粤Z12345港", 1, None),  # ? is exactly one character
        ("苏E55555", 1, ("e-expired", 0)),  # no clock given: expiry not applied
        ("浙A12345", 1, ("e-near", 0)),  # exact beats 京A12345 at distance 1
        ("", 1, None),
    ],
)
def test_match_table(plate: str, max_distance: int, expected: tuple[str, int] | None) -> None:
    match = Hotlist("list-1", ENTRIES, max_distance).match(plate)
    if expected is None:
        assert match is None
    else:
        assert match is not None and (match.entry_id, match.distance) == expected
        assert match.list_id == "list-1"


def test_expiry() -> None:
    hotlist = Hotlist("l", ENTRIES, 1)
    assert hotlist.match("苏E55555", now_ms=999) is not None
    assert hotlist.match("苏E55555", now_ms=1_000) is None


def test_ties_prefer_exact_then_order() -> None:
    entries = [
        HotlistEntry("wild", "京A*"),
        HotlistEntry("exact", "京A12345"),
        HotlistEntry("dup", "京A12345"),
    ]
    assert Hotlist("l", entries, 1).match("京A12345") == HotlistMatch("l", "exact", "京A12345", 0)
    # a wildcard at 0 beats an exact entry at 1
    entries = [HotlistEntry("exact", "京A12346"), HotlistEntry("wild", "京A*")]
    assert Hotlist("l", entries, 1).match("京A12345") == HotlistMatch("l", "wild", "京A*", 0)


def test_best_match_across_lists() -> None:
    far = Hotlist("far", [HotlistEntry("a", "京A12346")], 1)
    near = Hotlist("near", [HotlistEntry("b", "京A12345")], 1)
    same = Hotlist("same", [HotlistEntry("c", "京A12345")], 1)
    assert best_match("京A12345", [far, near, same]) == HotlistMatch("near", "b", "京A12345", 0)
    assert best_match("京A12346", [near, far]) == HotlistMatch("far", "a", "京A12346", 0)
    assert best_match("沪C00000", [far, near]) is None


def test_rendered_set_against_hotlists() -> None:
    """The issue's check on the rendered plates' texts: a list holding none of them matches none; a list
    holding some (one of them one character off) matches exactly those."""
    reads = [spec.text for spec in plate_specs(seed=0)]
    others = Hotlist("others", [HotlistEntry(f"o{i}", s.text) for i, s in enumerate(plate_specs(seed=1))], 1)
    assert [r for r in reads if others.match(r) is not None] == []
    wanted = reads[::7]
    entries = [HotlistEntry(f"w{i}", text) for i, text in enumerate(wanted[1:], 1)]
    one_off = wanted[0][:-1] + ("0" if wanted[0][-1] != "0" else "1")
    entries.append(HotlistEntry("w0", one_off))
    hotlist = Hotlist("wanted", entries, 1)
    matched = {r: hotlist.match(r) for r in reads}
    assert {r for r, m in matched.items() if m is not None} == set(wanted)
    first = matched[wanted[0]]
    assert first is not None and (first.entry_id, first.distance) == ("w0", 1)


@pytest.mark.parametrize(
    ("pattern", "normalised"),
    [
        ("京A·12345", "京A12345"),
        ("jing a-12 345", "JINGA12345"),
        ("京A**5", "京A*5"),
        ("粤Z?23?港", "粤Z?23?港"),
        ("\uff21\uff22\uff11", "AB1"),  # full-width
    ],
)
def test_validate_pattern_normalises(pattern: str, normalised: str) -> None:
    assert validate_pattern(pattern) == normalised


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("", "empty"),
        (" · ", "empty"),
        ("*", "at least 2"),
        ("?*", "at least 2"),
        ("京*", "at least 2"),
        ("京A[0-9]", "characters other than"),
        ("京A1\x00", "characters other than"),
        ("京A12345678901234567", "longer than 16"),
    ],
)
def test_validate_pattern_rejects(pattern: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as error:
        validate_pattern(pattern)
    assert repr(pattern) in str(error.value)


def test_hotlist_rejects_bad_entries_and_distance() -> None:
    with pytest.raises(ValueError, match="'京A\\[1\\]'"):
        Hotlist("l", [HotlistEntry("a", "京A12345"), HotlistEntry("b", "京A[1]")])
    with pytest.raises(ValueError, match="max_distance"):
        Hotlist("l", [], 4)
    assert len(Hotlist("l", ENTRIES)) == len(ENTRIES)
