"""How the simulated devices behave: each model turns its state and the time into messages.

``timeline`` merges the devices' own schedules into one stream of ``(time, Message)`` in time
order, in the native MQTT format, without reading a clock; a seed makes it repeatable.
"""

from __future__ import annotations

import heapq
import json
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from collector.simulator.devices import ColdRoom, Device, Door, Gate, Meter, WaterMeter, meter_watts
from collector.simulator.scenario import Scenario, local_hour

__all__ = ["Message", "timeline"]

# Battery-powered sensors report their charge now and then, not with every reading.
BATTERY_EVERY_S = 1800.0
# Cold rooms are integrated in steps this long, so a door opening between readings still counts.
COLD_STEP_S = 1.0


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes


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
