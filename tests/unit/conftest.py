"""Unit tests run on the in-memory event store; tests/integration re-runs the application
stories against PostgreSQL by overriding `store_env`."""
import pytest


@pytest.fixture
def store_env() -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
