"""Where the golden samples live and how to read them (shared by the contract tests)."""
from __future__ import annotations

from pathlib import Path

import pytest

from shared.contracts import CONTRACTS, CloudEvent

GOLDEN = Path(__file__).parent / "golden"
REPO = Path(__file__).resolve().parents[2]
TYPES = sorted(CONTRACTS)  # parametrize over this: a new contract is checked automatically


def golden_path(type_name: str) -> Path:
    return GOLDEN / f"{type_name}.json"


def golden_envelope(type_name: str) -> CloudEvent:
    path = golden_path(type_name)
    if not path.exists():
        pytest.fail(f"{type_name} has no golden sample: add tests/contract/golden/{path.name} "
                    "(a full CloudEvent exactly as the relay publishes it)")
    return CloudEvent.from_bytes(path.read_bytes())
