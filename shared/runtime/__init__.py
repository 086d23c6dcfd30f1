"""Embedded infrastructure for laptops and tests: a real nats-server and a real PostgreSQL."""
