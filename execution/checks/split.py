"""Split a trade's total volume across its positions, one per TP (nearest TP first).

Promise: ``split_volume(total=..., legs=..., volume_min=..., volume_step=...)`` returns ``legs``
volumes (``legs`` 0 counts as 1) summing to ``total`` rounded DOWN to the step:

* equal shares rounded down to the step; the remainder, one step at a time, to the nearest legs;
* when a share would fall below ``volume_min``, fewer legs carry volume: the largest ``n <= legs``
  whose share, rounded down to the step, is at least ``volume_min``; the legs after the first
  ``n`` get ``Decimal(0)``;
* ``total`` below ``volume_min``: all zeros (the caller rejects the trade).

Pure: no I/O, no Django.
"""

import math
from decimal import Decimal


def split_volume(
    *, total: Decimal, legs: int, volume_min: Decimal, volume_step: Decimal
) -> tuple[Decimal, ...]:
    legs = max(legs, 1)
    steps = int(total // volume_step)
    min_steps = max(math.ceil(volume_min / volume_step), 1)
    carrying = min(legs, steps // min_steps)
    if carrying == 0:
        return (Decimal(0),) * legs
    share, extra = divmod(steps, carrying)
    volumes = tuple((share + (leg < extra)) * volume_step for leg in range(carrying))
    return volumes + (Decimal(0),) * (legs - carrying)
