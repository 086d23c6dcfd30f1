"""Errors a person can act on. Services' domain errors subclass these; the HTTP layer maps
them to status codes in one place (shared.http)."""


class DomainError(Exception):
    """A rule of the domain was broken; the message names the rule (HTTP 409)."""


class NotFound(DomainError):
    """The thing asked for does not exist (HTTP 404); `field` names the path or query
    parameter that named it, when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Invalid(DomainError):
    """The request is well-formed but its content cannot be accepted (HTTP 422)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message
