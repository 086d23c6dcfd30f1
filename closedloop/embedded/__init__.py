"""Real nats-server and PostgreSQL processes for a laptop stack and the test suite."""
