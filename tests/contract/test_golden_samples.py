"""Golden samples: one real-looking CloudEvent per contract, read the way consumers read them.

A change to a contract that breaks a golden sample breaks every consumer still reading the old
shape: publish a new `.vN` instead (docs/contracts.md)."""
from __future__ import annotations

import json
import re
from types import SimpleNamespace
from uuid import UUID

import pytest
from pydantic import ValidationError

from shared.bus.relay import envelope_for
from shared.contracts import CONTRACTS, CloudEvent, contract_for_type
from tests.contract.samples import GOLDEN, TYPES, golden_envelope, golden_path

REQUIRED = [(t, name) for t in TYPES for name, field in CONTRACTS[t].model_fields.items()
            if field.is_required()]
OPTIONAL = {t: [name for name, field in CONTRACTS[t].model_fields.items() if not field.is_required()]
            for t in TYPES}


def test_every_contract_has_a_golden_sample_and_every_sample_a_contract():
    samples = {path.name.removesuffix(".json") for path in GOLDEN.glob("*.json")}
    assert sorted(set(CONTRACTS) - samples) == [], "contracts without a golden sample"
    assert sorted(samples - set(CONTRACTS)) == [], "golden samples of no contract (renamed or retired?)"


@pytest.mark.parametrize("type_name", TYPES)
def test_the_golden_sample_is_read_the_way_a_consumer_reads_it(type_name):
    # The consumer's path: bytes → envelope → contract class by type → validated data.
    envelope = golden_envelope(type_name)
    assert envelope.type == type_name
    contract_type = contract_for_type(envelope.type)
    assert contract_type is CONTRACTS[type_name]
    contract = contract_type.model_validate(envelope.data)
    # The sample carries every field exactly as the relay serialises it (no field left to a
    # default), so it shows the whole contract.
    assert envelope.data == contract.model_dump(mode="json")


@pytest.mark.parametrize("type_name", TYPES)
def test_the_golden_sample_is_exactly_what_the_relay_publishes(type_name):
    golden = golden_envelope(type_name)
    contract_type = CONTRACTS[type_name]
    producer = contract_type.PRODUCER
    assert re.fullmatch(rf"{producer}:[1-9]\d*", golden.id), "ids are <service>:<notification id>"
    assert golden.source == f"closedloop/{producer}"
    assert golden.time.tzinfo is not None and golden.correlationid and golden.causationid

    stored_event = SimpleNamespace(
        timestamp=golden.time, originator_id=UUID(golden.subject),
        cause={"correlation_id": golden.correlationid, "causation_id": golden.causationid})
    notification_id = int(golden.id.split(":")[1])
    published = envelope_for(producer, notification_id, stored_event,
                             contract_type.model_validate(golden.data))
    assert published == golden


@pytest.mark.parametrize("type_name", TYPES)
def test_envelope_to_bytes_and_back_is_identical(type_name):
    envelope = golden_envelope(type_name)
    wire = envelope.to_bytes()
    assert CloudEvent.from_bytes(wire) == envelope
    # The wire form is the golden file itself, up to whitespace.
    assert json.loads(wire) == json.loads(golden_path(type_name).read_bytes())


@pytest.mark.parametrize(("type_name", "field"), REQUIRED, ids=[f"{t}-{f}" for t, f in REQUIRED])
def test_data_without_a_required_field_is_refused(type_name, field):
    data = dict(golden_envelope(type_name).data)
    del data[field]
    with pytest.raises(ValidationError) as refused:
        CONTRACTS[type_name].model_validate(data)
    assert [error["loc"] for error in refused.value.errors()] == [(field,)]


@pytest.mark.parametrize("type_name", TYPES)
def test_data_without_its_optional_fields_is_still_accepted(type_name):
    # Optional fields are the compatible way to grow a contract: an older producer omits them.
    data = {k: v for k, v in golden_envelope(type_name).data.items() if k not in OPTIONAL[type_name]}
    contract = CONTRACTS[type_name].model_validate(data)
    fields = CONTRACTS[type_name].model_fields
    for name in OPTIONAL[type_name]:
        assert getattr(contract, name) == fields[name].get_default(call_default_factory=True)


@pytest.mark.parametrize("type_name", TYPES)
def test_unknown_fields_from_a_newer_producer_are_ignored(type_name):
    envelope = golden_envelope(type_name)
    newer = json.loads(envelope.to_bytes())
    newer["data"] |= {"store_region": "east", "playbook": {"url": "https://wiki/nps", "steps": 3}}
    newer["partitionkey"] = "store-042"  # an extension attribute the envelope does not know
    read = CloudEvent.from_bytes(json.dumps(newer).encode())

    contract = CONTRACTS[type_name].model_validate(read.data)
    assert contract == CONTRACTS[type_name].model_validate(envelope.data)
    # Extension attributes survive a hop through a consumer that re-serialises the envelope.
    assert json.loads(read.to_bytes())["partitionkey"] == "store-042"


def test_an_unknown_type_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown event type 'closedloop.detector.alert.raised.v9'"):
        contract_for_type("closedloop.detector.alert.raised.v9")
