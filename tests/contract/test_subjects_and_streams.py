"""Subjects follow one naming rule, each lands in its producer's stream, and the operators'
stream files in infra/nats/streams say exactly what the services create."""
from __future__ import annotations

import json
import re
from enum import Enum

import pytest

from shared.bus.deadletter import dead_letter_subject
from shared.bus.streams import (
    DUPLICATE_WINDOW_SECONDS, PRODUCERS, stream_configs, stream_name,
)
from shared.contracts import CONTRACTS, DEAD_LETTER_PREFIX
from tests.contract.samples import REPO, TYPES

SUBJECT = re.compile(r"closedloop\.(?P<producer>[a-z]+)\.(?P<aggregate>[a-z]+)"
                     r"\.(?P<event>[a-z]+)\.v(?P<version>[1-9][0-9]*)")
STREAM_FILES = REPO / "infra" / "nats" / "streams"
NS = 1_000_000_000


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS wildcard matching: `*` is one token, a trailing `>` one or more."""
    want, have = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or token not in ("*", have[i]):
            return False
    return len(want) == len(have)


def streams_capturing(subject: str) -> list[str]:
    return [c.name for c in stream_configs() if any(subject_matches(p, subject) for p in c.subjects)]


def test_the_wildcard_matcher_behaves_like_nats():
    assert subject_matches("closedloop.capa.>", "closedloop.capa.case.opened.v1")
    assert not subject_matches("closedloop.capa.>", "closedloop.capa")
    assert subject_matches("closedloop.*.case.opened.v1", "closedloop.capa.case.opened.v1")
    assert not subject_matches("closedloop.*.opened", "closedloop.capa.case.opened")
    assert not subject_matches("closedloop.capa.case", "closedloop.capa.case.opened")


@pytest.mark.parametrize("type_name", TYPES)
def test_type_name_is_the_subject_and_follows_the_naming_rule(type_name):
    contract = CONTRACTS[type_name]
    parts = SUBJECT.fullmatch(type_name)
    assert parts, f"{type_name} is not closedloop.<producer>.<aggregate>.<event>.v<N>"
    assert parts.groupdict() == {"producer": contract.PRODUCER, "aggregate": contract.AGGREGATE,
                                 "event": contract.EVENT, "version": str(contract.VERSION)}
    assert contract.PRODUCER in PRODUCERS


@pytest.mark.parametrize("type_name", TYPES)
def test_each_subject_is_stored_by_its_producers_stream_and_no_other(type_name):
    producer = CONTRACTS[type_name].PRODUCER
    assert streams_capturing(type_name) == [stream_name(producer)]


@pytest.mark.parametrize("type_name", TYPES)
def test_a_dead_letter_of_each_subject_goes_to_the_dlq_stream_only(type_name):
    subject = dead_letter_subject("incidents", type_name)
    assert subject == f"{DEAD_LETTER_PREFIX}.incidents.{type_name}"
    assert streams_capturing(subject) == ["DLQ"]


def test_every_producer_has_a_stream_and_contracts():
    assert {c.name for c in stream_configs()} == {stream_name(p) for p in PRODUCERS} | {"DLQ"}
    assert {c.PRODUCER for c in CONTRACTS.values()} == set(PRODUCERS)


# -- infra/nats/streams/*.json -------------------------------------------------------------

FIELDS = ("name", "subjects", "retention", "storage", "num_replicas", "duplicate_window",
          "max_age", "discard")


def plain(value):
    return value.value if isinstance(value, Enum) else value


def test_there_is_one_stream_file_per_stream():
    assert sorted(p.name for p in STREAM_FILES.glob("*.json")) == sorted(
        f"{c.name.lower()}.json" for c in stream_configs())


@pytest.mark.parametrize("config", stream_configs(), ids=lambda c: c.name)
def test_the_stream_file_matches_the_code(config):
    on_disk = json.loads((STREAM_FILES / f"{config.name.lower()}.json").read_text())
    in_code = {k: plain(v) for k, v in config.as_dict().items()}
    assert {k: on_disk.get(k) for k in FIELDS} == {k: in_code[k] for k in FIELDS}
    # Nothing set by hand in the file that the services would not set (or would reset).
    assert set(on_disk) <= set(in_code), f"settings only in the file: {set(on_disk) - set(in_code)}"
    for key in set(on_disk) - set(FIELDS):
        assert on_disk[key] == in_code[key], key
    # The file is in nanoseconds, the code in seconds: check the unit, not only nats-py's conversion.
    assert on_disk["duplicate_window"] == DUPLICATE_WINDOW_SECONDS * NS
    assert on_disk["max_age"] == config.max_age * NS
