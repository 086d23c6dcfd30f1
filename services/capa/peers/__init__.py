"""举一反三 — the same problem elsewhere: the alerts capa heard, the peers of a case's entity at
risk once its root cause is known, and one preventive action planned for each."""
