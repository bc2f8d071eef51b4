"""Resources: what a job needs (``resources: {cpu: 2, mem: 4G, gpu: 1}``) and
what the run has (``--resources cpu=8,mem=32G,gpu=2``). Pure bookkeeping.

A job starts only when its demand fits what is free; it gives it back when
its attempt ends. A job without ``resources`` needs ``cpu: 1`` (and so does
one that names other resources but not ``cpu``). The run's capacity:
``cpu`` = the number of workers, ``mem`` = the machine's memory, anything
else 0, unless given (``gpu``: the number of devices an inherited
``CUDA_VISIBLE_DEVICES`` names). ``gpu`` units are handed out as devices,
never shared by two running jobs.

    >>> pool = ResourcePool({"cpu": 2, "gpu": 2})
    >>> pool.take({"cpu": 1, "gpu": 1}), pool.take({"cpu": 1, "gpu": 1}), pool.fits({"cpu": 1})
    (('0',), ('1',), False)
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Mapping
from typing import Any

__all__ = ["ResourcePool", "capacity", "demand", "fits_float", "gpu_devices", "parse_amount", "parse_resources"]

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b?)", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def fits_float(value: Any) -> bool:
    """A finite number a float can hold (a 400-digit integer cannot: it would
    overflow wherever it became one; an infinity or NaN is no amount either)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) <= sys.float_info.max


def parse_amount(value: object) -> float:
    """An amount: a number >= 0, or a size such as ``4G``, ``512M``, ``1.5GiB`` (bytes, binary units).

    >>> parse_amount("4G"), parse_amount(2), parse_amount("512mb")
    (4294967296.0, 2.0, 536870912.0)
    """
    amount = None
    if isinstance(value, (int, float)) and fits_float(value) and value >= 0:
        amount = float(value)
    elif isinstance(value, str):
        found = _SIZE.fullmatch(value.strip())
        if found:
            amount = float(found[1]) * _UNITS[found[2].lower()]
    if amount is None or not math.isfinite(amount):
        raise ValueError(f"must be a number >= 0 or a size such as 4G or 512M, got {value!r}")
    return amount


def parse_resources(text: str) -> dict[str, float]:
    """``cpu=8,mem=32G,gpu=2`` as a mapping (the ``--resources`` option).

    >>> parse_resources("cpu=8, mem=1G")
    {'cpu': 8.0, 'mem': 1073741824.0}
    """
    parsed: dict[str, float] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        name, equals, amount = part.partition("=")
        if not equals or not name.strip():
            raise ValueError(f"expected NAME=AMOUNT, got {part!r}")
        parsed[name.strip()] = parse_amount(amount.strip())
    return parsed


def demand(resources: Mapping[str, float]) -> dict[str, float]:
    """What a job with ``resources`` needs: ``cpu: 1`` unless it says otherwise."""
    return {"cpu": 1.0, **resources}


def machine_memory() -> float:
    """Bytes of physical memory (0 if unknown)."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError):
        return 0.0


def gpu_devices(environ: Mapping[str, str]) -> list[str] | None:
    """The GPU devices the run was given: the entries of an inherited
    ``CUDA_VISIBLE_DEVICES`` (a Slurm or container allocation; set but empty:
    none), or None when it is not set.

    >>> gpu_devices({"CUDA_VISIBLE_DEVICES": "4, 5"}), gpu_devices({"CUDA_VISIBLE_DEVICES": ""}), gpu_devices({})
    (['4', '5'], [], None)
    """
    value = environ.get("CUDA_VISIBLE_DEVICES")
    return None if value is None else [entry.strip() for entry in value.split(",") if entry.strip()]


def capacity(workers: int, given: Mapping[str, float], devices: list[str] | None = None) -> dict[str, float]:
    """The run's capacity: ``given``, with ``cpu`` = workers, ``mem`` = the
    machine's memory and ``gpu`` = the number of ``devices`` (if known) where not given."""
    gpus = {} if devices is None else {"gpu": float(len(devices))}
    return {"cpu": float(workers), "mem": machine_memory(), **gpus, **given}


class ResourcePool:
    """What is free of a run's capacity; ``gpu`` units as devices: entries of
    ``devices`` (default ``0`` to ``gpu - 1``), never one the run was not given."""

    def __init__(self, total: Mapping[str, float], devices: list[str] | None = None,
                 manages_gpus: bool = True) -> None:
        self.total = dict(total)
        self.free = dict(total)
        count = int(total.get("gpu", 0))
        if devices is not None and count > len(devices):
            raise ValueError(f"the run has gpu={count} but CUDA_VISIBLE_DEVICES gives it {len(devices)} device(s) "
                             f"({','.join(devices) or 'none'})")
        self._devices = list(devices if devices is not None else map(str, range(count)))[:count]
        self._gpus = list(self._devices)
        #: Whether jobs see only the devices they hold (a job holding none sees none):
        #: when gpus are counted at all (given a capacity, or asked for by a job).
        self.manages_gpus = manages_gpus and count > 0

    def never_fits(self, needs: Mapping[str, float]) -> str | None:
        """Why ``needs`` can never be met by this run (None if it can)."""
        for name, amount in needs.items():
            if amount > self.total.get(name, 0.0):
                return f"needs {name}={_shown(name, amount)} but the run has {_shown(name, self.total.get(name, 0.0))}"
        if needs.get("gpu", 0) != int(needs.get("gpu", 0)):
            return f"needs gpu={needs['gpu']:g}: gpus are whole devices"
        return None

    def fits(self, needs: Mapping[str, float]) -> bool:
        return all(amount <= self.free.get(name, 0.0) + 1e-9 for name, amount in needs.items())

    def take(self, needs: Mapping[str, float]) -> tuple[str, ...]:
        """Take ``needs`` (which must fit); the gpu devices handed out."""
        for name, amount in needs.items():
            self.free[name] = self.free.get(name, 0.0) - amount
        count = int(needs.get("gpu", 0))
        gpus, self._gpus = tuple(self._gpus[:count]), self._gpus[count:]
        return gpus

    def give_back(self, needs: Mapping[str, float], gpus: tuple[str, ...]) -> None:
        for name, amount in needs.items():
            self.free[name] = self.free.get(name, 0.0) + amount
        self._gpus = sorted(self._gpus + list(gpus), key=self._devices.index)


def _shown(name: str, amount: float) -> str:
    if name == "mem" and amount >= 1 << 20:
        return f"{amount / (1 << 30):.3g}G"
    return f"{amount:g}"
