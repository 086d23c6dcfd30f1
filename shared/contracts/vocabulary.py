"""Words every service shares because they appear in the public contracts."""
from enum import StrEnum


class Severity(StrEnum):
    """P0 is the most urgent; contracts carry the value ("P0"…"P3")."""

    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
