"""Pieces every closedloop service shares: contracts, bus, store, settings, HTTP and tracing."""
