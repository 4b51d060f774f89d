"""Agents needed per interval: Erlang C through pyworkforce."""

from __future__ import annotations

import math

from pyworkforce.queuing import ErlangC

from handoff.workforce.model import INTERVAL_MINUTES, Staffing


def staff(
    contacts: float, *, aht_seconds: float, target_seconds: float, service_level: float,
    shrinkage: float, max_occupancy: float, interval_minutes: int = INTERVAL_MINUTES,
) -> Staffing:
    """Erlang C for one interval (0 contacts: 0 agents).

    ``raw_agents`` is the fewest agents answering ``service_level`` of the contacts within
    ``target_seconds`` (raised further when they would be busier than ``max_occupancy``);
    ``agents`` is ``ceil(raw_agents / (1 - shrinkage))``, what to put on the roster. Raises
    ValueError naming the bad value.
    """
    _check(contacts, aht_seconds, target_seconds, service_level, shrinkage, max_occupancy,
           interval_minutes)
    if contacts == 0:
        return Staffing(contacts=0.0, raw_agents=0, agents=0, service_level=1.0, occupancy=0.0,
                        waiting_probability=0.0)
    erlang = ErlangC(transactions=contacts, aht=aht_seconds / 60, asa=target_seconds / 60,
                     interval=interval_minutes, shrinkage=shrinkage)
    result = erlang.required_positions(service_level=service_level, max_occupancy=max_occupancy)
    return Staffing(
        contacts=float(contacts),
        raw_agents=int(result["raw_positions"]),
        agents=int(result["positions"]),
        service_level=float(result["service_level"]),
        occupancy=float(result["occupancy"]),
        waiting_probability=float(result["waiting_probability"]),
    )


def _check(
    contacts: float, aht_seconds: float, target_seconds: float, service_level: float,
    shrinkage: float, max_occupancy: float, interval_minutes: int,
) -> None:
    values = {"contacts": contacts, "aht_seconds": aht_seconds, "target_seconds": target_seconds,
              "service_level": service_level, "shrinkage": shrinkage,
              "max_occupancy": max_occupancy, "interval_minutes": interval_minutes}
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or \
                not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, not {value!r}")
    if contacts < 0:
        raise ValueError(f"contacts must be 0 or more, not {contacts}")
    if aht_seconds <= 0:
        raise ValueError(f"the average handling time must be above 0 seconds, not {aht_seconds}")
    if target_seconds <= 0:
        raise ValueError(f"the target answer time must be above 0 seconds, not {target_seconds}")
    if not 0 < service_level < 1:
        raise ValueError(f"the service level is a share between 0 and 1 (e.g. 0.9 for 90%), "
                         f"not {service_level}")
    if not 0 <= shrinkage < 1:
        raise ValueError(f"shrinkage is a share from 0 to below 1 (e.g. 0.3 for 30%), "
                         f"not {shrinkage}")
    if not 0 < max_occupancy <= 1:
        raise ValueError(f"the maximum occupancy is a share above 0 and at most 1 (e.g. 0.85), "
                         f"not {max_occupancy}")
    if interval_minutes <= 0 or int(interval_minutes) != interval_minutes:
        raise ValueError(f"the interval is a whole number of minutes above 0, "
                         f"not {interval_minutes}")
