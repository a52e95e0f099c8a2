"""Seismic intensity from peak ground acceleration (PGA): the China scale and Modified Mercalli.

Sources:

- **China, GB/T 17742-2020** 《中国地震烈度表》 (The Chinese seismic intensity scale), appendix A:
  instrumental intensity from PGA (m/s²) `I_A = 3.17·lg(PGA) + 6.59` (A.5); the standard combines it
  with `I_V = 3.00·lg(PGV) + 9.77` (A.6); a sensor here reports PGA only, so `I_A` is used alone.
  The result is kept to [1.0, 12.0] and degree n covers [n - 0.5, n + 0.5). The PGA range of each
  degree (lower bounds below, m/s²) follows from the formula; for VI-X it agrees, within rounding,
  with the ranges printed in GB/T 17742-2008 (VI 0.45-0.89, VII 0.90-1.77, ...).
- **Modified Mercalli (MMI)**: Wald, Quitoriano, Heaton & Kanamori (1999), "Relationships between
  peak ground acceleration, peak ground velocity, and Modified Mercalli Intensity in California",
  Earthquake Spectra 15(3), 557-564: `MMI = 3.66·lg(PGA) - 1.66` for MMI ≥ V and
  `MMI = 2.20·lg(PGA) + 1.00` below, PGA in cm/s² (gal); the same relations behind the USGS
  ShakeMap instrumental intensity table (I < 0.17 %g, IV from 1.4 %g, VI from 9.2 %g, ...).

Lower PGA bound of each degree, in gal (cm/s²), as computed by this module (`PGA_TABLE_GAL`):

| degree | GB/T 17742-2020 | MMI (Wald 1999) |
|---|---|---|
| II | 2.48 | 1.69 |
| III | 5.13 | 4.81 |
| IV | 10.6 | 13.7 |
| V | 21.9 | 39 |
| VI | 45.3 | 90.4 |
| VII | 93.7 | 170 |
| VIII | 194 | 318 |
| IX | 400 | 597 |
| X | 828 | 1120 |
| XI | 1712 | 2101 |
| XII | 3539 | 3941 |
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Scale = Literal["gb17742", "mmi"]

#: 1 g in gal (cm/s²), standard gravity.
G_GAL = 980.665
_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")


@dataclass(frozen=True, slots=True)
class Intensity:
    scale: Scale
    degree: int  # 1..12
    value: float  # the continuous (instrumental) intensity

    @property
    def roman(self) -> str:
        return _ROMAN[self.degree - 1]


def pga_to_gal(value: float, unit: str) -> float:
    """A PGA reading in `gal` or `m/s2` as gal (1 m/s² = 100 gal)."""
    if unit == "gal":
        return value
    if unit == "m/s2":
        return value * 100.0
    raise ValueError(f"not a PGA unit: {unit!r} (gal or m/s2)")


def instrumental_intensity(pga_gal: float, scale: Scale) -> float:
    """The continuous intensity for a PGA in gal, kept to [1, 12]."""
    if pga_gal <= 0:
        return 1.0
    if scale == "gb17742":
        value = 3.17 * math.log10(pga_gal / 100.0) + 6.59
    else:
        value = 3.66 * math.log10(pga_gal) - 1.66
        if value < 5.0:
            value = 2.20 * math.log10(pga_gal) + 1.00
    return min(12.0, max(1.0, value))


def degree_of(value: float) -> int:
    """Degree n for an instrumental intensity in [n - 0.5, n + 0.5), kept to 1..12."""
    return min(12, max(1, math.floor(value + 0.5)))


def intensity(pga_gal: float, scale: Scale) -> Intensity:
    value = instrumental_intensity(pga_gal, scale)
    return Intensity(scale=scale, degree=degree_of(value), value=round(value, 2))


def intensity_of_reading(value: float, unit: str, scale: Scale) -> Intensity:
    """A seismic reading's intensity: PGA (`gal`, `m/s2`) converted, an `mmi` reading taken as is."""
    if unit == "mmi":
        clamped = min(12.0, max(1.0, value))
        return Intensity(scale="mmi", degree=degree_of(clamped), value=round(clamped, 2))
    return intensity(pga_to_gal(value, unit), scale)


def _lower_bound_gal(degree: int, scale: Scale) -> float:
    target = degree - 0.5
    if scale == "gb17742":
        return 100.0 * 10 ** ((target - 6.59) / 3.17)
    if target >= 5.0:
        return float(10 ** ((target + 1.66) / 3.66))
    return float(10 ** ((target - 1.00) / 2.20))


#: degree -> lowest PGA (gal) of that degree, per scale (degree I starts at 0).
PGA_TABLE_GAL: dict[Scale, dict[int, float]] = {
    scale: {1: 0.0, **{d: _lower_bound_gal(d, scale) for d in range(2, 13)}} for scale in ("gb17742", "mmi")
}
