"""docs/asyncapi.yaml is written by hand; these checks stop it drifting from the contracts."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import yaml

from shared.bus import deadletter
from shared.bus.streams import PRODUCERS
from shared.contracts import CONTRACTS, DEAD_LETTER_PREFIX, CloudEvent
from tests.contract.samples import REPO, TYPES, golden_envelope

DOC = yaml.safe_load((REPO / "docs" / "asyncapi.yaml").read_text())
DLQ_ADDRESS = f"{DEAD_LETTER_PREFIX}.{{service}}.{{originalSubject}}"


def resolve(node: Any) -> Any:
    """Follow local `$ref`s (`#/a/b/c`) until a real object."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), f"only local references are used: {ref}"
        node = DOC
        for token in ref[2:].split("/"):
            token = token.replace("~1", "/").replace("~0", "~")
            assert token in node, f"{ref} does not resolve"
            node = node[token]
    return node


def references(node: Any):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for value in node:
            yield from references(value)


def channel_for(type_name: str) -> dict:
    found = [c for c in DOC["channels"].values() if c["address"] == type_name]
    assert len(found) == 1, f"{type_name} needs exactly one channel in docs/asyncapi.yaml"
    return found[0]


def data_schema(type_name: str) -> dict:
    (message,) = channel_for(type_name)["messages"].values()
    payload = resolve(resolve(message)["payload"])
    parts = [resolve(part) for part in payload["allOf"]]
    (data,) = [p["properties"]["data"] for p in parts if "data" in p.get("properties", {})
               and "$ref" in p["properties"]["data"]]
    return resolve(data)


def types_of(schema: dict) -> set[str]:
    if "anyOf" in schema:
        return set().union(*(types_of(s) for s in schema["anyOf"]))
    kinds = schema["type"]
    return set(kinds) if isinstance(kinds, list) else {kinds}


def test_it_is_an_asyncapi_3_document_whose_references_all_resolve():
    assert DOC["asyncapi"].startswith("3.")
    for ref in set(references(DOC)):
        resolve({"$ref": ref})


def test_channels_are_exactly_the_contracts_and_the_dead_letter_channel():
    addresses = sorted(c["address"] for c in DOC["channels"].values())
    assert addresses == sorted([*CONTRACTS, DLQ_ADDRESS])


@pytest.mark.parametrize("type_name", TYPES)
def test_each_contract_has_a_send_operation_on_its_channel(type_name):
    channel = channel_for(type_name)
    sends = [op for op in DOC["operations"].values()
             if op["action"] == "send" and resolve(op["channel"]) is channel]
    assert len(sends) == 1
    messages = [resolve(ref) for ref in sends[0]["messages"]]
    assert messages == [resolve(m) for m in channel["messages"].values()]


@pytest.mark.parametrize("type_name", TYPES)
def test_the_documented_payload_matches_the_pydantic_model(type_name):
    model = CONTRACTS[type_name].model_json_schema()
    documented = data_schema(type_name)
    assert sorted(documented["required"]) == sorted(model["required"])
    assert list(documented["properties"]) == list(model["properties"])
    for name, schema in model["properties"].items():
        assert types_of(documented["properties"][name]) == types_of(schema), name


@pytest.mark.parametrize("type_name", TYPES)
def test_the_documented_envelope_pins_type_and_source(type_name):
    (message,) = channel_for(type_name)["messages"].values()
    parts = [resolve(p) for p in resolve(message)["payload"]["allOf"]]
    pinned = {k: v["const"] for p in parts for k, v in p.get("properties", {}).items() if "const" in v}
    producer = CONTRACTS[type_name].PRODUCER
    assert pinned["type"] == type_name and pinned["source"] == f"closedloop/{producer}"
    # Headers and correlation id come from the shared CloudEvent trait.
    assert {"$ref": "#/components/messageTraits/CloudEvent"} in resolve(message)["traits"]


def test_the_documented_envelope_matches_the_cloudevent_model():
    schema = DOC["components"]["schemas"]["CloudEvent"]
    assert set(schema["properties"]) == set(CloudEvent.model_fields)
    assert set(schema["required"]) >= {n for n, f in CloudEvent.model_fields.items() if f.is_required()}
    assert schema.get("additionalProperties") is True  # extension attributes are allowed


def test_published_messages_document_the_dedup_and_trace_headers():
    trait = DOC["components"]["messageTraits"]["CloudEvent"]
    headers = resolve(trait["headers"])
    assert {"Nats-Msg-Id", "traceparent"} <= set(headers["properties"])
    assert "Nats-Msg-Id" in headers["required"]


def test_the_dead_letter_channel_documents_every_closedloop_header():
    channel = channel_for(DLQ_ADDRESS)
    assert channel["parameters"]["service"]["enum"] == list(PRODUCERS)
    (message,) = channel["messages"].values()
    headers = resolve(resolve(message)["headers"])
    written = {deadletter.REASON, deadletter.ORIGINAL_SUBJECT, deadletter.ORIGINAL_STREAM,
               deadletter.ORIGINAL_SEQUENCE, deadletter.CONSUMER, "Nats-Msg-Id"}
    assert written <= set(headers["required"])
    documented_closedloop = {h for h in headers["properties"] if h.startswith("Closedloop-")}
    assert documented_closedloop == {h for h in written if h.startswith("Closedloop-")}


# A small check of the golden samples against the documented schema: just types and required
# properties, which is what a reader in another language would rely on.
JSON_TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool,
              "object": dict, "array": list, "null": type(None)}


def conforms(value: Any, schema: dict, where: str) -> None:
    kinds = types_of(schema)
    assert any(isinstance(value, JSON_TYPES[k]) and not (isinstance(value, bool) and k != "boolean")
               for k in kinds), f"{where}: {value!r} is not {sorted(kinds)}"
    if schema.get("format") == "date-time" and isinstance(value, str):
        datetime.fromisoformat(value)
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            conforms(item, schema["items"], f"{where}[{i}]")
    if isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
        for key, item in value.items():
            conforms(item, schema["additionalProperties"], f"{where}.{key}")


@pytest.mark.parametrize("type_name", TYPES)
def test_the_golden_sample_conforms_to_the_documented_schema(type_name):
    data = golden_envelope(type_name).data
    schema = data_schema(type_name)
    assert set(schema["required"]) <= set(data)
    for name, value in data.items():
        conforms(value, schema["properties"][name], name)
