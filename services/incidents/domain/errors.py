"""What the incident refuses, each naming the rule it protects."""
from shared.errors import DomainError, NotFound


class IncidentNotFound(NotFound):
    """No incident has this id or ref."""


class IncidentFinished(DomainError):
    """The incident is closed or archived; people can no longer change it."""


class AlreadyAcknowledged(DomainError):
    """Someone already acknowledged this incident."""


class AlreadyResolved(DomainError):
    """Someone already resolved this incident."""


class NotClosed(DomainError):
    """Only a closed incident can be archived."""


class SeverityUnchanged(DomainError):
    """The incident already has the severity asked for."""


class NotReopenable(DomainError):
    """Only a resolved or closed incident can be reopened; an archived one cannot."""


class LinkAlreadyUsed(DomainError):
    """A one-click acknowledge link works once; it was used already."""


class DowngradeNeedsManager(DomainError):
    """Lowering an incident's severity needs a manager (HTTP 403 at the API)."""


class SlaAlreadyPaused(DomainError):
    """The incident already awaits its requester."""


class NotPaused(DomainError):
    """Only an incident awaiting its requester can be resumed."""


class NotClosable(DomainError):
    """The incident cannot close this way: its closing path (or its state) says otherwise."""
