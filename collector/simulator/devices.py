"""The simulated devices as data: what each kind is made of, and the demo hospital built from them.

A device here is a frozen description (a meter's loads, a cold room's thermostat, a door's habits);
how it behaves over time lives in ``timeline``.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ColdRoom",
    "Curve",
    "Device",
    "Door",
    "Gate",
    "Kind",
    "Meter",
    "WaterMeter",
    "hospital",
    "kind_of",
    "meter_watts",
    "water_lpm",
]

Kind = Literal["power_meter", "water_meter", "temperature", "door", "access_reader"]


@dataclass(frozen=True, slots=True)
class Curve:
    """A daily profile: ``base`` at share 0, ``peak`` at share 1, shares at local hours between."""

    base: float
    peak: float
    shape: tuple[tuple[float, float], ...]

    def at(self, hour: float) -> float:
        return self.base + (self.peak - self.base) * _interpolate(self.shape, hour % 24.0)


@dataclass(frozen=True, slots=True)
class Meter:
    """A power meter; a main meter lists every load behind it, so it always reads more."""

    id: str
    loads: tuple[Curve, ...]
    start_kwh: float
    noise: float = 0.015


@dataclass(frozen=True, slots=True)
class WaterMeter:
    id: str
    use: Curve  # L/min
    leak_lpm: float
    start_m3: float
    noise: float = 0.1


@dataclass(frozen=True, slots=True)
class ColdRoom:
    """A thermostat: the compressor cools below ``setpoint - swing``-ish, rests above, cycles."""

    id: str
    setpoint: float
    swing: float
    cool_rate: float  # °C/s while the compressor runs
    warm_rate: float  # °C/s through the walls while it rests
    door: str | None
    ambient: float  # °C of the air that comes in through an open door
    exchange: float  # 1/s: how fast an open door pulls the room towards ambient
    noise: float = 0.05


@dataclass(frozen=True, slots=True)
class Door:
    id: str
    mean_gap: float  # s between ordinary openings (daytime)
    open_for: tuple[float, float]  # s, shortest and longest ordinary opening


@dataclass(frozen=True, slots=True)
class Gate:
    id: str
    mean_gap: float  # s between swipes
    cards: tuple[str, ...]
    expired: tuple[str, ...]
    unknown_share: float = 0.07
    expired_share: float = 0.05


Device = Meter | WaterMeter | ColdRoom | Door | Gate


# Hospital loads in W by local hour (shared/reference/energy.md: a hospital never empties, so the
# night baseload is large; outpatients and the kitchen follow clinic hours and meals).
WARDS = Curve(55_000, 95_000, ((0, 0.1), (6, 0.2), (8, 0.8), (12, 1.0), (18, 0.9), (22, 0.4)))
OUTPATIENT = Curve(
    6_000, 85_000, ((0, 0), (7, 0), (8, 0.8), (10, 1), (12, 0.7), (14, 1), (17, 0.8), (19, 0))
)
KITCHEN = Curve(
    12_000,
    70_000,
    (
        (0, 0),
        (5, 0),
        (6, 0.7),
        (7.5, 0.4),
        (10.5, 0.8),
        (12, 1),
        (13, 0.3),
        (16.5, 0.8),
        (18, 0.9),
        (19.5, 0.2),
        (21, 0),
    ),
)
COMMON = Curve(85_000, 170_000, ((0, 0), (6, 0.2), (9, 0.9), (14, 1.0), (18, 0.8), (22, 0.2)))
# L/min; the leak comes on top, so no hour of the night is ever dry (the classic leak signature).
WATER_USE = Curve(0.0, 220.0, ((0, 0.1), (3, 0), (5, 0.2), (8, 1), (12, 0.9), (18, 0.8), (23, 0.2)))


def hospital() -> tuple[Device, ...]:
    """The devices of ``examples/demo-site.yaml`` (tests/agent/test_demo_config.py checks)."""
    rng = random.Random("demo-hospital cards")
    staff = tuple(f"C00{rng.randrange(10_000, 99_999)}" for _ in range(60))
    expired = tuple(f"C01{rng.randrange(10_000, 99_999)}" for _ in range(4))
    return (
        Meter("main-meter", (WARDS, OUTPATIENT, KITCHEN, COMMON), start_kwh=3_862_410.0),
        Meter("meter-wards", (WARDS,), start_kwh=1_204_377.0),
        Meter("meter-outpatient", (OUTPATIENT,), start_kwh=688_052.0),
        Meter("meter-kitchen", (KITCHEN,), start_kwh=402_919.0),
        WaterMeter("water-main", WATER_USE, leak_lpm=1.5, start_m3=48_215.0),
        ColdRoom(
            "kitchen-freezer",
            -18.5,
            0.3,
            cool_rate=0.01,
            warm_rate=0.004,
            door="kitchen-freezer-door",
            ambient=12.0,
            exchange=0.0036,
        ),
        ColdRoom(
            "pharmacy-fridge",
            5.0,
            0.4,
            cool_rate=0.01,
            warm_rate=0.003,
            door="pharmacy-fridge-door",
            ambient=22.0,
            exchange=0.002,
        ),
        Door("kitchen-freezer-door", mean_gap=240.0, open_for=(5.0, 25.0)),
        Door("pharmacy-fridge-door", mean_gap=360.0, open_for=(5.0, 20.0)),
        Gate("gate-main", mean_gap=4.0, cards=staff, expired=expired),
        Gate("gate-east", mean_gap=6.0, cards=staff, expired=expired),
    )


def kind_of(device: Device) -> Kind:
    kinds: dict[type, Kind] = {
        Meter: "power_meter",
        WaterMeter: "water_meter",
        ColdRoom: "temperature",
        Door: "door",
        Gate: "access_reader",
    }
    return kinds[type(device)]


def meter_watts(meter: Meter, hour: float) -> float:
    """The meter's power at a local hour, before measurement noise."""
    return sum(load.at(hour) for load in meter.loads)


def water_lpm(meter: WaterMeter, hour: float) -> float:
    return meter.leak_lpm + meter.use.at(hour)


def _interpolate(points: tuple[tuple[float, float], ...], hour: float) -> float:
    """Linear between the points, wrapping from the last one round midnight to the first."""
    wrapped = [(points[-1][0] - 24.0, points[-1][1]), *points, (points[0][0] + 24.0, points[0][1])]
    i = bisect.bisect_right([h for h, _ in wrapped], hour)
    (h0, v0), (h1, v1) = wrapped[i - 1], wrapped[i]
    return v0 + (v1 - v0) * (hour - h0) / (h1 - h0)
