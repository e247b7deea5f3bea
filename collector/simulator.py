"""Simulated devices of the demo hospital, publishing the native MQTT format.

The core is pure: ``timeline`` turns device models, a ``Scenario`` and a seed into the stream of
``(time, Message)`` the site would produce, in time order, without reading a clock. ``publish``
paces that stream against a clock, and ``run`` sends it to a broker with paho until stopped.

The story of the demo (``DEMO_INCIDENT``): about 40 s in, the kitchen freezer door is left open
for four minutes; the freezer warms past −15 °C within two minutes and takes half an hour to pull
back down (shared/reference/coldchain.md: sustained > −15 °C is an alarm for a food freezer).
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import json
import math
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

__all__ = [
    "DEMO_INCIDENT",
    "ColdRoom",
    "Curve",
    "Device",
    "Door",
    "Gate",
    "Incident",
    "Message",
    "Meter",
    "Scenario",
    "WaterMeter",
    "build_scenario",
    "hospital",
    "kind_of",
    "local_hour",
    "meter_watts",
    "publish",
    "run",
    "timeline",
    "water_lpm",
]

Kind = Literal["power_meter", "water_meter", "temperature", "door", "access_reader"]
Interval = tuple[float, float]

# Battery-powered sensors report their charge now and then, not with every reading.
BATTERY_EVERY_S = 1800.0
# Cold rooms are integrated in steps this long, so a door opening between readings still counts.
COLD_STEP_S = 1.0
# How far ahead door openings are planned; the demo is not meant to run for a week.
PLAN_HORIZON_S = 7 * 86400.0


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes


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


@dataclass(frozen=True, slots=True)
class Incident:
    """A door left open ``at`` s after the start, for ``duration`` s (None: until stopped)."""

    door: str
    at: float
    duration: float | None


@dataclass(frozen=True, slots=True)
class Scenario:
    site: str
    zone: ZoneInfo
    start: float
    interval: float
    incident: Incident | None
    openings: Mapping[str, tuple[Interval, ...]] = field(default_factory=dict)

    def door_open(self, door: str, t: float) -> bool:
        spans = self.openings.get(door, ())
        i = bisect.bisect_right(spans, (t, math.inf)) - 1
        return i >= 0 and spans[i][0] <= t < spans[i][1]

    def next_change(self, door: str, t: float) -> float:
        """The first time after ``t`` at which the door opens or closes."""
        spans = self.openings.get(door, ())
        i = bisect.bisect_right(spans, (t, math.inf))
        edges = [end for _, end in spans[max(i - 1, 0) : i] if end > t]
        edges += [start for start, _ in spans[i : i + 1]]
        return min(edges, default=math.inf)


DEMO_INCIDENT = Incident(door="kitchen-freezer-door", at=40.0, duration=240.0)


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


def local_hour(t: float, zone: ZoneInfo) -> float:
    moment = datetime.fromtimestamp(t, zone)
    return moment.hour + moment.minute / 60 + moment.second / 3600


def meter_watts(meter: Meter, hour: float) -> float:
    """The meter's power at a local hour, before measurement noise."""
    return sum(load.at(hour) for load in meter.loads)


def water_lpm(meter: WaterMeter, hour: float) -> float:
    return meter.leak_lpm + meter.use.at(hour)


def build_scenario(
    devices: Sequence[Device],
    site: str,
    timezone: str,
    start: float,
    seed: int,
    *,
    interval: float = 5.0,
    incident: Incident | None = DEMO_INCIDENT,
) -> Scenario:
    """Plan every door opening up front, so a cold room can ask its door at any time."""
    zone = ZoneInfo(timezone)
    plans: dict[str, tuple[Interval, ...]] = {}
    for door in (d for d in devices if isinstance(d, Door)):
        rng = random.Random(f"{seed}/openings/{door.id}")
        spans = _ordinary_openings(door, start, zone, rng)
        if incident is not None and incident.door == door.id:
            spans = _with_incident(spans, start, incident)
        plans[door.id] = tuple(spans)
    return Scenario(site, zone, start, interval, incident, plans)


def timeline(
    devices: Sequence[Device], scenario: Scenario, seed: int, until: float = math.inf
) -> Iterator[tuple[float, Message]]:
    """Every message the site sends from ``scenario.start`` until ``until``, in time order."""
    rngs = [random.Random(f"{seed}/{device.id}") for device in devices]
    states = [_initial(device, rng) for device, rng in zip(devices, rngs, strict=True)]
    # Devices come online at once (within 3 s), then keep their own interval.
    due = [(scenario.start + rng.uniform(0.1, 3.0), i) for i, rng in enumerate(rngs)]
    heapq.heapify(due)
    while due and due[0][0] <= until:
        at, i = heapq.heappop(due)
        states[i], messages, next_at = _emit(devices[i], states[i], at, scenario, rngs[i])
        for message in messages:
            yield at, message
        heapq.heappush(due, (next_at, i))


def publish(
    stream: Iterable[tuple[float, Message]],
    send: Callable[[Message], object],
    stop: threading.Event,
    clock: Callable[[], float] = time.time,
) -> int:
    """Send each message once the clock reaches its time; return how many were sent."""
    sent = 0
    for at, message in stream:
        if stop.wait(max(0.0, at - clock())):
            break
        send(message)
        sent += 1
    return sent


def run(
    mqtt_url: str,
    stop: threading.Event,
    *,
    site: str = "demo-hospital",
    timezone: str = "Asia/Shanghai",
    seed: int = 1,
    interval: float = 5.0,
    start: float | None = None,
) -> int:
    """Publish the demo hospital to a broker until ``stop`` is set."""
    parts = urlsplit(mqtt_url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"fw-simulator-{site}")
    client.reconnect_delay_set(min_delay=1, max_delay=10)
    # connect_async: the broker may still be starting; paho keeps QoS 1 messages until it is up.
    client.connect_async(parts.hostname or "127.0.0.1", parts.port or 1883)
    client.loop_start()
    try:
        devices = hospital()
        begin = time.time() if start is None else start
        scenario = build_scenario(devices, site, timezone, begin, seed, interval=interval)
        stream = timeline(devices, scenario, seed)
        return publish(stream, lambda m: client.publish(m.topic, m.payload, qos=1), stop)
    finally:
        client.disconnect()
        client.loop_stop()


# --- device models: (device, state, t, scenario, rng) -> (state, messages, next time) ----------


@dataclass(frozen=True, slots=True)
class _Counter:
    total: float  # kWh or m³
    rate: float | None = None  # W or L/min at the last reading
    last_t: float | None = None
    battery: float = 100.0
    battery_at: float = -math.inf


@dataclass(frozen=True, slots=True)
class _Cold:
    temperature: float
    cooling: bool
    last_t: float | None = None
    battery: float = 100.0
    battery_at: float = -math.inf


@dataclass(frozen=True, slots=True)
class _Contact:
    battery: float = 100.0
    battery_at: float = -math.inf


@dataclass(frozen=True, slots=True)
class _Swipes:
    pass


_State = _Counter | _Cold | _Contact | _Swipes
_S = TypeVar("_S", _Counter, _Cold, _Contact)
_Emission = tuple[_State, list[Message], float]


def _initial(device: Device, rng: random.Random) -> _State:
    battery = round(rng.uniform(62.0, 99.0))
    if isinstance(device, Meter):
        return _Counter(device.start_kwh)
    if isinstance(device, WaterMeter):
        return _Counter(device.start_m3, battery=battery)
    if isinstance(device, ColdRoom):
        temperature = device.setpoint + rng.uniform(-device.swing, device.swing)
        return _Cold(temperature, cooling=rng.random() < 0.5, battery=battery)
    if isinstance(device, Door):
        return _Contact(battery=battery)
    return _Swipes()


def _emit(
    device: Device, state: _State, t: float, scenario: Scenario, rng: random.Random
) -> _Emission:
    match device, state:
        case Meter(), _Counter():
            return _meter(device, state, t, scenario, rng)
        case WaterMeter(), _Counter():
            return _water(device, state, t, scenario, rng)
        case ColdRoom(), _Cold():
            return _cold_room(device, state, t, scenario, rng)
        case Door(), _Contact():
            return _door(device, state, t, scenario)
        case Gate(), _:
            return state, [_swipe(device, t, scenario, rng)], t + _gap(device.mean_gap, rng)
    raise TypeError(f"no model for {type(device).__name__} with {type(state).__name__}")


def _meter(
    meter: Meter, state: _Counter, t: float, scenario: Scenario, rng: random.Random
) -> _Emission:
    watts = meter_watts(meter, local_hour(t, scenario.zone)) * (
        1 + rng.uniform(-meter.noise, meter.noise)
    )
    total = state.total
    if state.last_t is not None and state.rate is not None:
        total += (state.rate + watts) / 2 * (t - state.last_t) / 3.6e6  # trapezoid, W·s -> kWh
    messages = [
        _reading(scenario, meter.id, "power", t, round(watts, 1)),
        _reading(scenario, meter.id, "energy", t, round(total, 3)),
    ]
    return _Counter(total, watts, t), messages, t + scenario.interval


def _water(
    meter: WaterMeter, state: _Counter, t: float, scenario: Scenario, rng: random.Random
) -> _Emission:
    use = meter.use.at(local_hour(t, scenario.zone)) * (1 + rng.uniform(-meter.noise, meter.noise))
    lpm = meter.leak_lpm + max(use, 0.0)
    total = state.total
    if state.last_t is not None and state.rate is not None:
        total += (state.rate + lpm) / 2 * (t - state.last_t) / 60_000  # L/min · s -> m³
    messages = [_reading(scenario, meter.id, "water", t, round(total, 5))]
    state, battery = _battery(
        replace(state, total=total, rate=lpm, last_t=t), meter.id, t, scenario
    )
    return state, messages + battery, t + scenario.interval


def _cold_room(
    room: ColdRoom, state: _Cold, t: float, scenario: Scenario, rng: random.Random
) -> _Emission:
    temperature, cooling = state.temperature, state.cooling
    clock = t if state.last_t is None else state.last_t
    while clock < t:
        step = min(COLD_STEP_S, t - clock)
        door_open = room.door is not None and scenario.door_open(room.door, clock + step / 2)
        temperature, cooling = _cold_step(room, temperature, cooling, door_open, step)
        clock += step
    shown = round(temperature + rng.uniform(-room.noise, room.noise), 2)
    messages = [_reading(scenario, room.id, "temperature", t, shown)]
    moved = replace(state, temperature=temperature, cooling=cooling, last_t=t)
    new, battery = _battery(moved, room.id, t, scenario)
    return new, messages + battery, t + scenario.interval


def _cold_step(
    room: ColdRoom, temperature: float, cooling: bool, door_open: bool, step: float
) -> tuple[float, bool]:
    if door_open:
        temperature += room.exchange * (room.ambient - temperature) * step
    temperature += (-room.cool_rate if cooling else room.warm_rate) * step
    if temperature >= room.setpoint + room.swing:
        cooling = True
    elif temperature <= room.setpoint - room.swing:
        cooling = False
    return temperature, cooling


def _door(door: Door, state: _Contact, t: float, scenario: Scenario) -> _Emission:
    # A contact reports every change at once and its state as a heartbeat in between.
    value = 1.0 if scenario.door_open(door.id, t) else 0.0
    messages = [_reading(scenario, door.id, "contact", t, value)]
    new, battery = _battery(state, door.id, t, scenario)
    next_at = min(t + scenario.interval, scenario.next_change(door.id, t))
    return new, messages + battery, next_at


def _swipe(gate: Gate, t: float, scenario: Scenario, rng: random.Random) -> Message:
    roll = rng.random()
    reason: str | None = None
    if roll < gate.unknown_share:
        card, result, reason = f"C09{rng.randrange(10_000, 99_999)}", "denied", "unknown card"
    elif roll < gate.unknown_share + gate.expired_share:
        card, result, reason = rng.choice(gate.expired), "denied", "card expired"
    else:
        card, result = rng.choice(gate.cards), "granted"
    inward = 0.7 if local_hour(t, scenario.zone) < 12 else 0.35  # mornings arrive, evenings leave
    body = {
        "ts": round(t, 3),
        "card": card,
        "result": result,
        "direction": "in" if rng.random() < inward else "out",
        "reason": reason,
    }
    return Message(f"fw/{scenario.site}/{gate.id}/access", _json(body))


def _battery(state: _S, device: str, t: float, scenario: Scenario) -> tuple[_S, list[Message]]:
    if t - state.battery_at < BATTERY_EVERY_S:
        return state, []
    message = _reading(scenario, device, "battery", t, state.battery)
    return replace(state, battery_at=t), [message]


def _reading(scenario: Scenario, device: str, metric: str, t: float, value: float) -> Message:
    payload = _json({"ts": round(t, 3), "value": value})
    return Message(f"fw/{scenario.site}/{device}/{metric}", payload)


def _json(body: Mapping[str, object]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _gap(mean: float, rng: random.Random) -> float:
    return min(max(rng.expovariate(1.0 / mean), 0.5), 8 * mean)


def _interpolate(points: tuple[tuple[float, float], ...], hour: float) -> float:
    """Linear between the points, wrapping from the last one round midnight to the first."""
    wrapped = [(points[-1][0] - 24.0, points[-1][1]), *points, (points[0][0] + 24.0, points[0][1])]
    i = bisect.bisect_right([h for h, _ in wrapped], hour)
    (h0, v0), (h1, v1) = wrapped[i - 1], wrapped[i]
    return v0 + (v1 - v0) * (hour - h0) / (h1 - h0)


def _ordinary_openings(
    door: Door, start: float, zone: ZoneInfo, rng: random.Random
) -> list[Interval]:
    spans: list[Interval] = []
    t = start
    while t < start + PLAN_HORIZON_S:
        night = not 6.0 <= local_hour(t, zone) < 22.0
        t += rng.expovariate(1.0 / door.mean_gap) * (4.0 if night else 1.0)
        length = rng.uniform(*door.open_for)
        spans.append((t, t + length))
        t += length
    return spans


def _with_incident(spans: list[Interval], start: float, incident: Incident) -> list[Interval]:
    """Nobody opens the door before the incident (the freezer is steady); it resumes after."""
    begin = start + incident.at
    if incident.duration is None:
        return [(begin, math.inf)]
    end = begin + incident.duration
    return [(begin, end), *(span for span in spans if span[0] > end)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Publish the simulated demo hospital.")
    parser.add_argument("--mqtt-url", default="mqtt://127.0.0.1:1883")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--interval", type=float, default=5.0)
    args = parser.parse_args(argv)
    stop = threading.Event()
    try:
        run(args.mqtt_url, stop, seed=args.seed, interval=args.interval)
    except KeyboardInterrupt:
        stop.set()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
