"""Plate formats: normalisation, every built-in format, position-aware fixes, rejections, extra patterns."""

from __future__ import annotations

import pytest

from detectors.plate_format import (
    FORMAT_NAMES,
    PLATE_COLOURS,
    compile_pattern,
    normalise_plate,
    parse_plate,
)

VALID = [
    # raw OCR text, canonical text, format, colours
    ("京A·12345", "京A12345", "ordinary", ("blue", "yellow")),
    ("沪B 3C8K9", "沪B3C8K9", "ordinary", ("blue", "yellow")),
    ("粤B·D12345", "粤BD12345", "new_energy_small", ("green",)),
    ("苏E F1234 5", "苏EF12345", "new_energy_small", ("green",)),
    ("浙A·12345D", "浙A12345D", "new_energy_large", ("green",)),
    ("京A·1234警", "京A1234警", "police", ("white",)),
    ("川A·H123学", "川AH123学", "coach", ("yellow",)),
    ("鲁B·4567挂", "鲁B4567挂", "trailer", ("yellow",)),
    ("沪A·0123领", "沪A0123领", "consulate", ("black",)),
    ("粤Z·1A23港", "粤Z1A23港", "hk_macau", ("black",)),
    ("粤Z·4567澳", "粤Z4567澳", "hk_macau", ("black",)),
    ("使·014578", "使014578", "embassy", ("black",)),
    ("224·001使", "224001使", "embassy", ("black",)),
    ("VA·12345", "VA12345", "military", ("white",)),
    ("KB12345", "KB12345", "military", ("white",)),
    ("WJ京·1234消", "WJ京1234消", "armed_police", ("white",)),
    ("WJ·12345", "WJ12345", "armed_police", ("white",)),
    ("\uff4a\uff49\uff4e\uff47", None, None, None),  # full-width "jing": not a plate
]


@pytest.mark.parametrize(("raw", "text", "fmt", "colours"), VALID)
def test_formats(raw: str, text: str | None, fmt: str | None, colours: tuple[str, ...] | None) -> None:
    plate = parse_plate(raw)
    if text is None:
        assert plate is None
        return
    assert plate is not None
    assert (plate.text, plate.format, plate.colours, plate.fixes) == (text, fmt, colours, ())


FIXES = [
    # letters where a letter is required
    ("京0·12345", "京D12345", ("1:0->D",)),
    ("京8·12345", "京B12345", ("1:8->B",)),
    ("京2·12345", "京Z12345", ("1:2->Z",)),
    ("京O12345", "京D12345", ("1:O->D",)),
    # digits where digits are required (new energy's 4 / 5 digits, embassy, military)
    ("粤BDAO12Z", "粤BDA0122", ("4:O->0", "7:Z->2")),
    ("浙A1B3I5D", "浙A18315D", ("3:B->8", "5:I->1")),
    ("使D14578", "使014578", ("1:D->0",)),
    ("VA1234Z", "VA12342", ("6:Z->2",)),
    # serial positions: only I and O (never issued) are fixed; B, D, Z stay letters
    ("京AO23I5", "京A02315", ("2:O->0", "5:I->1")),
    ("京AB2D4Z", "京AB2D4Z", ()),
    # full-width and odd separators
    ("京\uff21\uff0d\uff11\uff12\uff13\uff14\uff15", "京A12345", ()),  # full-width "A-12345"
    ("[京A.1234警]", "京A1234警", ()),
    ("京a·12345", "京A12345", ()),
    ("京AD1234", "京AD1234", ()),  # 7 characters: an ordinary plate whose serial starts with D
]


@pytest.mark.parametrize(("raw", "text", "fixes"), FIXES)
def test_confusion_fixes(raw: str, text: str, fixes: tuple[str, ...]) -> None:
    plate = parse_plate(raw)
    assert plate is not None
    assert (plate.text, plate.fixes) == (text, fixes)


def test_fewest_fixes_wins() -> None:
    # 8 characters: new_energy_small needs no fix, new_energy_large would need D->0 and fails on 5
    plate = parse_plate("京AD12345")
    assert plate is not None and plate.format == "new_energy_small"
    # and the other way round
    plate = parse_plate("京A12345F")
    assert plate is not None and plate.format == "new_energy_large"


REJECTED = [
    "",
    "·",
    "京A1234",  # too short
    "京A1234567",  # too long
    "X京A12345",  # junk before
    "京I12345",  # I is never a city letter, 1 has no letter fix
    "京A12#45",  # the # is dropped: then too short
    "A京12345",  # province in the wrong place
    "哈A12345",  # not a province abbreviation
    "京AX12345",  # 8 chars: X is not D/F, 4 digits then D/F neither
    "使12345",  # embassy needs 6 digits
    "AA12345",  # A is not a military service letter
    "WJ京1234X",  # X is not an armed-police type character
    "HELLO WORLD",
]


@pytest.mark.parametrize("raw", REJECTED)
def test_rejected(raw: str) -> None:
    assert parse_plate(raw) is None


def test_extra_patterns_after_built_ins() -> None:
    hk = compile_pattern("hong_kong", r"[A-Z]{2}[0-9]{1,4}")
    assert parse_plate("AB 1234", (hk,)) == parse_plate("AB1234", (hk,))
    plate = parse_plate("AB 1234", (hk,))
    assert plate is not None and (plate.text, plate.format, plate.colours) == ("AB1234", "hong_kong", ())
    assert parse_plate("AB 12345", (hk,)) is None
    # a built-in format wins over an extra pattern that matches too
    everything = compile_pattern("any", r".+")
    plate = parse_plate("京A12345", (everything,))
    assert plate is not None and plate.format == "ordinary"


@pytest.mark.parametrize(("name", "regex"), [("bad", "[A-Z"), ("", "A"), ("has space", "A"), ("x", "(")])
def test_compile_pattern_rejects(name: str, regex: str) -> None:
    with pytest.raises(ValueError, match="plate format"):
        compile_pattern(name, regex)


def test_normalise_and_tables() -> None:
    assert normalise_plate(" 京a·1\uff123-4 5\t") == "京A12345"
    assert set(FORMAT_NAMES) == {
        "ordinary",
        "new_energy_small",
        "new_energy_large",
        "police",
        "coach",
        "trailer",
        "consulate",
        "hk_macau",
        "embassy",
        "military",
        "armed_police",
    }
    assert PLATE_COLOURS == ("blue", "yellow", "green", "white", "black")
