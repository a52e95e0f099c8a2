"""Mainland China licence plate formats: normalisation, validation and position-aware confusion fixes.

Pure (no models). `parse_plate(raw)` turns an OCR string into a canonical plate text or None:
  1. normalise: Unicode NFKC (full-width letters and digits become ASCII), upper case, and every
     character that is not a letter or a digit dropped (the separator dot `·`, spaces, `-`, `.`, frame
     strokes read as `|` or `[`)
  2. try every built-in format of the same length; a character outside its position's class is fixed
     when it is a known OCR confusion (below), else the format does not match
  3. the matching format with the fewest fixes wins (ties: the table's order); when none matches, the
     caller's `extra_patterns` (name, regex; full match on the normalised text, no fixes) are tried

Formats (GA 36-2018, the ones a camera meets; `P` a province abbreviation, `L` a city letter A-Z
without I and O, `S` a serial character: letters without I and O, or digits):
  ordinary          P L SSSSS          blue (small vehicles) or yellow (large vehicles)
  new_energy_small  P L [DF] S DDDD    green (D: battery electric, F: other new energy)
  new_energy_large  P L DDDDD [DF]     green (yellow-green on the plate)
  police            P L SSSS 警        white
  coach             P L SSSS 学        yellow
  trailer           P L SSSS 挂        yellow
  consulate         P L SSSS 领        black
  hk_macau          P L SSSS 港|澳     black (cross-border vehicles, Guangdong's 粤Z)
  embassy           使 DDDDDD or DDDDDD 使   black
  military          M L DDDDD          white (M: a service letter of BCEGHJKLNSVZ)
  armed_police      WJ P DDDD T or WJ DDDDD   white (T: a digit or one of 消边通森金警电)

Confusion fixes (each recorded as "<index>:<from>-><to>" on the normalised text):
  where a letter is required (L, M, D/F)   0->D, O->D, 8->B, 2->Z
  where a digit is required                O->0, D->0, I->1, B->8, Z->2
  serial positions (letter or digit)        O->0, I->1 (I and O are never issued)
Province characters and the special-series characters are never "fixed": a misread one rejects the read.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

logger = logging.getLogger(__name__)

PlateColour = Literal["blue", "yellow", "green", "white", "black"]
PLATE_COLOURS: tuple[PlateColour, ...] = ("blue", "yellow", "green", "white", "black")

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I, no O
_DIGITS = "0123456789"
_SERIAL = _LETTERS + _DIGITS
_MILITARY = "BCEGHJKLNSVZ"
_ARMED_POLICE_TYPE = _DIGITS + "消边通森金警电"

_TO_LETTER = {"0": "D", "O": "D", "8": "B", "2": "Z"}
_TO_DIGIT = {"O": "0", "D": "0", "I": "1", "B": "8", "Z": "2"}
_TO_SERIAL = {"O": "0", "I": "1"}


@dataclass(frozen=True, slots=True)
class _Slot:
    allowed: str
    fixes: dict[str, str]


def _slot(allowed: str) -> _Slot:
    """A position's class, with the fixes that make sense for it (none for Chinese characters)."""
    if allowed == _DIGITS:
        return _Slot(allowed, _TO_DIGIT)
    if allowed == _SERIAL:
        return _Slot(allowed, _TO_SERIAL)
    if allowed in (_LETTERS, _MILITARY, "DF"):
        return _Slot(allowed, _TO_LETTER)
    return _Slot(allowed, {})


def _layout(*parts: str | tuple[str, int]) -> tuple[_Slot, ...]:
    slots: list[_Slot] = []
    for part in parts:
        allowed, count = part if isinstance(part, tuple) else (part, 1)
        slots.extend(_slot(allowed) for _ in range(count))
    return tuple(slots)


@dataclass(frozen=True, slots=True)
class PlateFormat:
    name: str
    slots: tuple[_Slot, ...]
    colours: tuple[PlateColour, ...]


FORMATS: tuple[PlateFormat, ...] = (
    PlateFormat("ordinary", _layout(PROVINCES, _LETTERS, (_SERIAL, 5)), ("blue", "yellow")),
    PlateFormat("new_energy_small", _layout(PROVINCES, _LETTERS, "DF", _SERIAL, (_DIGITS, 4)), ("green",)),
    PlateFormat("new_energy_large", _layout(PROVINCES, _LETTERS, (_DIGITS, 5), "DF"), ("green",)),
    PlateFormat("police", _layout(PROVINCES, _LETTERS, (_SERIAL, 4), "警"), ("white",)),
    PlateFormat("coach", _layout(PROVINCES, _LETTERS, (_SERIAL, 4), "学"), ("yellow",)),
    PlateFormat("trailer", _layout(PROVINCES, _LETTERS, (_SERIAL, 4), "挂"), ("yellow",)),
    PlateFormat("consulate", _layout(PROVINCES, _LETTERS, (_SERIAL, 4), "领"), ("black",)),
    PlateFormat("hk_macau", _layout(PROVINCES, _LETTERS, (_SERIAL, 4), "港澳"), ("black",)),
    PlateFormat("embassy", _layout("使", (_DIGITS, 6)), ("black",)),
    PlateFormat("embassy", _layout((_DIGITS, 6), "使"), ("black",)),
    PlateFormat("military", _layout(_MILITARY, _LETTERS, (_DIGITS, 5)), ("white",)),
    PlateFormat("armed_police", _layout("W", "J", PROVINCES, (_DIGITS, 4), _ARMED_POLICE_TYPE), ("white",)),
    PlateFormat("armed_police", _layout("W", "J", (_DIGITS, 5)), ("white",)),
)

#: every format name `parse_plate` can return from the built-in table
FORMAT_NAMES: tuple[str, ...] = tuple(dict.fromkeys(f.name for f in FORMATS))


@dataclass(frozen=True, slots=True)
class PlateText:
    """A validated plate: canonical text (no separators), its format, the colours that format is issued
    in (empty for an extra pattern), and the confusion fixes applied ("<index>:<from>-><to>")."""

    text: str
    format: str
    colours: tuple[PlateColour, ...]
    fixes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ExtraPattern:
    """A configured other format: a name and a regex, matched in full against the normalised text."""

    name: str
    regex: re.Pattern[str]


def compile_pattern(name: str, regex: str) -> ExtraPattern:
    """Checks and compiles an extra plate format; ValueError naming it when the regex is invalid."""
    if not name or not name.replace("_", "").isalnum():
        raise ValueError(f"plate format name {name!r}: letters, digits and _ only")
    try:
        return ExtraPattern(name, re.compile(regex))
    except re.error as e:
        raise ValueError(f"plate format {name!r}: invalid regex {regex!r}: {e}") from e


def normalise_plate(raw: str) -> str:
    """NFKC, upper case, letters and digits only (separators, punctuation, symbols, spaces dropped)."""
    text = unicodedata.normalize("NFKC", raw).upper()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")


def _fit(text: str, fmt: PlateFormat) -> tuple[str, tuple[str, ...]] | None:
    out: list[str] = []
    fixes: list[str] = []
    for i, (ch, slot) in enumerate(zip(text, fmt.slots, strict=True)):
        if ch in slot.allowed:
            out.append(ch)
            continue
        fixed = slot.fixes.get(ch)
        if fixed is None or fixed not in slot.allowed:
            return None
        out.append(fixed)
        fixes.append(f"{i}:{ch}->{fixed}")
    return "".join(out), tuple(fixes)


def parse_plate(raw: str, extra_patterns: Sequence[ExtraPattern] = ()) -> PlateText | None:
    """The plate `raw` (an OCR string) reads as, or None when it fits no format (see the module doc)."""
    text = normalise_plate(raw)
    best: PlateText | None = None
    for fmt in FORMATS:
        if len(fmt.slots) != len(text):
            continue
        fitted = _fit(text, fmt)
        if fitted is not None and (best is None or len(fitted[1]) < len(best.fixes)):
            best = PlateText(fitted[0], fmt.name, fmt.colours, fitted[1])
    if best is not None:
        return best
    for extra in extra_patterns:
        if text and extra.regex.fullmatch(text):
            return PlateText(text, extra.name, ())
    return None
