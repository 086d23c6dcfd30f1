"""The product's shell: the `closedloop` command, the local stack with its embedded servers,
the demo, replay and dead-letter tools. It composes the services; nothing imports it back."""
