"""notifier: tells the right people on the right channels, and escalates when nobody acks."""
