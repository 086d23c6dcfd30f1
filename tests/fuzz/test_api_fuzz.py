"""Property-based fuzzing of every service from its own OpenAPI document (schemathesis):
valid and invalid requests alike must never get a 5xx, every status code must be one the
document declares, and every answer must match the schema declared for it."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.harness import ADMIN_KEY, service_app

pytestmark = pytest.mark.fuzz

# Bounded so the four services fuzz in a minute or two on two cores.
MAX_EXAMPLES = 10
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
FUZZ = settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


# Streams answer for as long as the client listens (a keep-alive every 15 s, inside any read
# timeout): a fuzzed request would never end. tests/integration/test_incidents_board.py drives
# the board's stream with a client that stops reading.
STREAMS = {"incidents": ["/v1/board/events"]}


def document(name: str) -> schemathesis.BaseSchema:
    """The service's OpenAPI document as its app builds it (building connects to nothing);
    the requests then go over HTTP to the same app running on real NATS and PostgreSQL."""
    app = service_app(name, database_url="postgresql://unused", nats_url="nats://unused")
    schema = schemathesis.openapi.from_dict(app.openapi())
    for path in STREAMS.get(name, []):
        schema = schema.exclude(path=path)
    schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                                    max_examples=MAX_EXAMPLES)
    return schema


def _call(case, running, name: str) -> None:
    case.call_and_validate(base_url=running[name].url, headers={"X-API-Key": ADMIN_KEY},
                           checks=CHECKS, timeout=30)


detector = document("detector")
incidents = document("incidents")
notifier = document("notifier")
capa = document("capa")


@detector.parametrize()
@FUZZ
def test_detector_api(case, running):
    _call(case, running, "detector")


@incidents.parametrize()
@FUZZ
def test_incidents_api(case, running):
    _call(case, running, "incidents")


@notifier.parametrize()
@FUZZ
def test_notifier_api(case, running):
    _call(case, running, "notifier")


@capa.parametrize()
@FUZZ
def test_capa_api(case, running):
    _call(case, running, "capa")
