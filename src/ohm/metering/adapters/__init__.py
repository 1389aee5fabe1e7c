"""Adapters to systems outside Ohm; ``get_headend`` picks the AMI head-end from settings.

``OHM_HEADEND`` is ``simulator`` (the default: demo, tests, training) or ``http`` (a real
head-end's REST gateway at ``OHM_HEADEND_URL``).
"""

from __future__ import annotations

from django.conf import settings

from ohm.metering.adapters.headend import HeadEnd

_simulator = None


def get_headend() -> HeadEnd:
    global _simulator
    kind = getattr(settings, "OHM_HEADEND", "simulator")
    if kind == "http":
        from ohm.metering.adapters.http_headend import HttpHeadEnd

        return HttpHeadEnd(getattr(settings, "OHM_HEADEND_URL", ""))
    if kind != "simulator":
        raise ValueError(f"OHM_HEADEND is {kind!r}: use 'simulator' or 'http'")
    # One simulator per process: its meters' switch states must outlive a request.
    if _simulator is None:
        from ohm.metering.adapters.simulator import SimulatedHeadEnd, SimulatorConfig

        _simulator = SimulatedHeadEnd(
            SimulatorConfig(seed=getattr(settings, "OHM_HEADEND_SEED", 1))
        )
    return _simulator


def reset_headend() -> None:
    """Forget the process's simulator (tests, and a training sandbox's reset)."""
    global _simulator
    _simulator = None
