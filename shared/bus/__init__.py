"""NATS JetStream: connection and streams, the outbox relay, durable consumers, dead letters."""
