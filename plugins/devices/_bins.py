"""What ultrasonic waste-bin sensors share: fill level from distance and bin depth.

The sensor sits under the lid and measures the distance down to the waste; the bin's
inside depth is a per-device option (``bin_depth_mm``), so one model serves every bin.
"""

from hromada import Option

DEFAULT_BIN_DEPTH_MM = 2000

BIN_DEPTH_OPTION = Option("bin_depth_mm", "int", default=DEFAULT_BIN_DEPTH_MM, min=100,
                          max=10000, help="inside depth of the bin, from the sensor face to the bin floor")


def fill_level(distance_mm, depth_mm):
    """Percent full from the sensor-to-waste distance and the bin's inside depth."""
    if depth_mm <= 0:
        return None
    level = (depth_mm - distance_mm) / depth_mm * 100.0
    return round(min(100.0, max(0.0, level)), 1)


def add_fill_level(readings, options):
    """Decoder post-step: a ``fill_level`` reading after the ``distance`` one."""
    depth = options.get("bin_depth_mm", DEFAULT_BIN_DEPTH_MM)
    for q, v, _unit in readings:
        if q == "distance":
            level = fill_level(v, depth)
            if level is not None:
                readings.append(("fill_level", level, "%"))
            break
    return readings
