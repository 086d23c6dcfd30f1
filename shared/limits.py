"""Input size limits, in one place: every text, map and list an API stores is bounded, so the
biggest event a request can cause stays far below NATS's 1 MB max_payload (docs/limits.md)."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

# The whole request body: sample batches are the big ones (refused with 413 past this).
MAX_BODY_BYTES = 16 * 1024 * 1024
# NATS's default max_payload; the worst-case event must stay well below it.
NATS_MAX_PAYLOAD = 1024 * 1024
# A character costs at most 6 bytes in the JSON of an event: control characters are written
# as \u00XX; any other code point is at most 4 bytes of UTF-8.
JSON_BYTES_PER_CHAR = 6

NAME = 200          # a name: person, entity, metric, rule, channel, fingerprint, reference
TITLE = 500         # one line: a title, a unit, a contributing factor
TEXT = 4096         # free text: summaries, statements, evidence, notes, descriptions
URL = 2048          # a URL (browsers and proxies commonly stop near here)
REQUEST_ID = 200    # the X-Request-Id header, stored on every event as correlation id

MAP_KEYS = 64       # keys in one map: labels, annotations, headers, graded bounds
MAP_KEY = 128       # characters in one key
LABEL_VALUE = 512   # characters in one label or header value
ANNOTATION_VALUE = TEXT  # annotations carry prose (the alert's summary comes from one)

ITEMS = 100         # entries in a list a person writes: channels, factors, conditions, bounds
MANY = 1000         # entries in a bulk list: alerts in one Alertmanager body (each its own
                    # event), metrics declared at once, labelled backtest windows

Name = Annotated[str, StringConstraints(min_length=1, max_length=NAME)]
OptionalName = Annotated[str, StringConstraints(max_length=NAME)]
Title = Annotated[str, StringConstraints(min_length=1, max_length=TITLE)]
ShortText = Annotated[str, StringConstraints(max_length=TITLE)]
LongText = Annotated[str, StringConstraints(max_length=TEXT)]
Url = Annotated[str, StringConstraints(min_length=1, max_length=URL)]

MapKey = Annotated[str, StringConstraints(min_length=1, max_length=MAP_KEY)]
LabelValue = Annotated[str, StringConstraints(max_length=LABEL_VALUE)]
AnnotationValue = Annotated[str, StringConstraints(max_length=ANNOTATION_VALUE)]
Labels = Annotated[dict[MapKey, LabelValue], Field(max_length=MAP_KEYS)]
Annotations = Annotated[dict[MapKey, AnnotationValue], Field(max_length=MAP_KEYS)]
Headers = Labels  # extra HTTP headers of a channel: name → value, bounded like labels

