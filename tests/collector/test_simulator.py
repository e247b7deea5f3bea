"""The demo hospital's simulated devices, run on a fake clock (the timeline never reads one)."""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime
from functools import cache
from types import ModuleType
from zoneinfo import ZoneInfo

import pytest

from collector import simulator
from collector.config import DeviceConfig
from collector.models import AccessEvent, Reading, Rejection
from collector.native import parse
from collector.simulator import Curve, Message, Meter, hospital, kind_of, meter_watts

ZONE = ZoneInfo("Asia/Shanghai")
NIGHT = datetime(2026, 11, 23, 3, 0, tzinfo=ZONE).timestamp()
DAY = datetime(2026, 11, 23, 11, 0, tzinfo=ZONE).timestamp()
DEVICES = hospital()
METERS = {d.id: d for d in DEVICES if isinstance(d, Meter)}
SUB_METERS = ["meter-wards", "meter-outpatient", "meter-kitchen"]
SEEDS = [1, 2, 3, 42]
Sample = tuple[float, float]  # (seconds since the start, value)


@cache
def stream(start: float, seed: int = 1, seconds: float = 600.0) -> list[tuple[float, Message]]:
    scenario = simulator.build_scenario(DEVICES, "demo-hospital", "Asia/Shanghai", start, seed)
    return list(simulator.timeline(DEVICES, scenario, seed, until=start + seconds))


def samples(
    start: float, device: str, metric: str, seed: int = 1, seconds: float = 600.0
) -> list[Sample]:
    topic = f"fw/demo-hospital/{device}/{metric}"
    return [
        (at - start, json.loads(m.payload)["value"])
        for at, m in stream(start, seed, seconds)
        if m.topic == topic
    ]


def access_events(start: float) -> list[dict[str, object]]:
    return [json.loads(m.payload) for _, m in stream(start) if m.topic.endswith("/access")]


@pytest.mark.parametrize("meter", sorted(METERS))
def test_power_is_lower_at_night_than_by_day(meter: str) -> None:
    assert 0 < meter_watts(METERS[meter], 3.0) < meter_watts(METERS[meter], 11.0)


def test_a_hospital_keeps_a_large_night_baseload() -> None:
    night, day = meter_watts(METERS["main-meter"], 3.0), meter_watts(METERS["main-meter"], 11.0)
    assert 0.3 < night / day < 0.6


@pytest.mark.parametrize("hour", [0.0, 3.0, 6.5, 9.0, 12.0, 15.5, 18.0, 21.0, 23.5])
def test_sub_meters_sum_to_less_than_the_main_meter(hour: float) -> None:
    subs = sum(meter_watts(METERS[m], hour) for m in SUB_METERS)
    assert subs < meter_watts(METERS["main-meter"], hour)


@pytest.mark.parametrize("start", [NIGHT, DAY])
def test_measured_sub_meters_stay_below_the_main_meter(start: float) -> None:
    def mean(device: str) -> float:
        values = [v for _, v in samples(start, device, "power")]
        return sum(values) / len(values)

    assert sum(mean(m) for m in SUB_METERS) < mean("main-meter")


@pytest.mark.parametrize("meter", sorted(METERS))
def test_energy_counters_only_grow(meter: str) -> None:
    values = [v for _, v in samples(DAY, meter, "energy")]
    assert values == sorted(values)
    assert values[-1] > values[0] > 1000


def test_energy_integrates_power() -> None:
    power = samples(DAY, "main-meter", "power")
    energy = samples(DAY, "main-meter", "energy")
    mean_kw = sum(v for _, v in power) / len(power) / 1000
    hours = (energy[-1][0] - energy[0][0]) / 3600
    assert energy[-1][1] - energy[0][1] == pytest.approx(mean_kw * hours, rel=0.02)


def test_water_keeps_flowing_at_night() -> None:
    water = samples(NIGHT, "water-main", "water")
    litres_per_minute = (water[-1][1] - water[0][1]) * 1000 / ((water[-1][0] - water[0][0]) / 60)
    assert 1.0 < litres_per_minute < 5.0


def test_water_flows_more_by_day() -> None:
    night, day = samples(NIGHT, "water-main", "water"), samples(DAY, "water-main", "water")
    assert day[-1][1] - day[0][1] > 20 * (night[-1][1] - night[0][1])


@pytest.mark.parametrize("seed", SEEDS)
def test_freezer_holds_before_its_door_is_left_open(seed: int) -> None:
    before = [v for t, v in samples(DAY, "kitchen-freezer", "temperature", seed) if t < 40]
    assert len(before) >= 7
    assert all(-19.0 <= v <= -18.0 for v in before)


@pytest.mark.parametrize("seed", SEEDS)
def test_freezer_warms_past_minus_15_within_two_minutes(seed: int) -> None:
    warm = [t for t, v in samples(DAY, "kitchen-freezer", "temperature", seed) if v > -15]
    assert 40 < warm[0] < 120


@pytest.mark.parametrize("start", [NIGHT, DAY])
def test_freezer_door_is_left_open_from_40_s_for_four_minutes(start: float) -> None:
    contact = samples(start, "kitchen-freezer-door", "contact")
    assert {v for t, v in contact if t < 40} == {0.0}
    assert {v for t, v in contact if 40 <= t < 280} == {1.0}
    assert next(t for t, v in contact if v == 1.0) == pytest.approx(40.0)


def test_doors_are_mostly_closed() -> None:
    contact = [v for _, v in samples(DAY, "pharmacy-fridge-door", "contact", seconds=3600)]
    assert 0 < sum(contact) / len(contact) < 0.2


def test_pharmacy_fridge_stays_inside_its_warning_limits() -> None:
    fridge = [v for _, v in samples(DAY, "pharmacy-fridge", "temperature", seconds=3600)]
    assert 3.0 < min(fridge) < 5.0 < max(fridge) < 7.0


@pytest.mark.parametrize("seed", SEEDS)
def test_every_device_reports_within_ten_seconds(seed: int) -> None:
    early = {m.topic.split("/")[2] for at, m in stream(DAY, seed) if at < DAY + 10}
    assert early == {d.id for d in DEVICES}


@pytest.mark.parametrize("start", [NIGHT, DAY])
def test_every_payload_parses_in_the_native_format(start: float) -> None:
    devices = {d.id: DeviceConfig(id=d.id, kind=kind_of(d)) for d in DEVICES}
    parsed = [parse(m.topic, m.payload, at, devices) for at, m in stream(start)]
    assert [p for p in parsed if isinstance(p, Rejection)] == []
    assert {type(p) for p in parsed} == {Reading, AccessEvent}


def test_gates_swipe_every_few_seconds() -> None:
    gates = [json.loads(m.payload) for _, m in stream(DAY) if m.topic.endswith("/access")]
    assert 600 / len(gates) < 5


def test_some_swipes_are_denied_with_a_reason() -> None:
    events = access_events(DAY)
    denied = [e for e in events if e["result"] == "denied"]
    assert 0.05 < len(denied) / len(events) < 0.25
    assert {e["reason"] for e in denied} == {"unknown card", "card expired"}
    assert {e["reason"] for e in events if e["result"] == "granted"} == {None}


def test_cards_look_like_cards() -> None:
    assert all(re.fullmatch(r"C\d{7}", str(e["card"])) for e in access_events(DAY))


def test_same_seed_same_stream() -> None:
    assert stream.__wrapped__(DAY, 7, 120) == stream.__wrapped__(DAY, 7, 120)


def test_another_seed_another_stream() -> None:
    assert stream(DAY, 1, 120) != stream(DAY, 2, 120)


@pytest.mark.parametrize(("hour", "share"), [(0.0, 0.0), (12.0, 1.0), (18.0, 0.5), (24.0, 0.0)])
def test_curve_interpolates_and_wraps_round_midnight(hour: float, share: float) -> None:
    curve = Curve(10.0, 20.0, ((6.0, 0.0), (12.0, 1.0), (18.0, 0.5), (21.0, 0.0)))
    assert curve.at(hour) == pytest.approx(10.0 + 10.0 * share)


def test_publish_sends_what_is_due_in_order() -> None:
    messages = [(DAY + i, Message(f"fw/s/d{i}/power", b"1")) for i in range(5)]
    sent: list[Message] = []
    count = simulator.publish(iter(messages), sent.append, threading.Event(), lambda: DAY + 10)
    assert count == 5
    assert sent == [m for _, m in messages]


def test_publish_stops_when_asked() -> None:
    stop = threading.Event()
    stop.set()
    sent: list[Message] = []
    messages = [(DAY, Message("fw/s/d/power", b"1"))]
    assert simulator.publish(iter(messages), sent.append, stop, lambda: DAY) == 0
    assert sent == []


@pytest.mark.parametrize(
    "module",
    [simulator, simulator.devices, simulator.scenario, simulator.behaviour, simulator.publisher],
)
def test_exports_exist(module: ModuleType) -> None:
    assert [name for name in module.__all__ if not hasattr(module, name)] == []
