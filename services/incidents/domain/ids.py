"""The namespace of every aggregate id derived from an upstream key (uuid5), so a redelivered
message reaches the same aggregate."""
from uuid import NAMESPACE_URL, uuid5

NAMESPACE = uuid5(NAMESPACE_URL, "https://closedloop/incidents")
