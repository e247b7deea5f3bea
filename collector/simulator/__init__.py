"""Simulated devices of the demo hospital, publishing the native MQTT format.

The core is pure: ``timeline`` (``behaviour``) turns the device models (``devices``), a
``Scenario`` (``scenario``) and a seed into the stream of ``(time, Message)`` the site would
produce, in time order, without reading a clock. ``publish`` paces that stream against a clock,
and ``run`` sends it to a broker with paho until stopped (``publisher``).
"""

from collector.simulator.behaviour import Message, timeline
from collector.simulator.devices import (
    ColdRoom,
    Curve,
    Device,
    Door,
    Gate,
    Meter,
    WaterMeter,
    hospital,
    kind_of,
    meter_watts,
    water_lpm,
)
from collector.simulator.publisher import publish, run
from collector.simulator.scenario import (
    DEMO_INCIDENT,
    Incident,
    Scenario,
    build_scenario,
    local_hour,
)

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
