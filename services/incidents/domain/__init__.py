"""The incidents domain: the incident aggregate and the aggregates that deduplicate alerts
and number incidents (no I/O; time arrives as an `at` argument)."""
from services.incidents.domain.ids import NAMESPACE
from services.incidents.domain.errors import (
    AlreadyAcknowledged, AlreadyResolved, DowngradeNeedsManager, IncidentFinished,
    IncidentNotFound, LinkAlreadyUsed, NotClosable, NotClosed, NotReopenable, SeverityUnchanged,
)
from services.incidents.domain.closing_policy import (
    Closing, ClosingPath, ClosingPolicy, parse_closing_paths,
)
from services.incidents.domain.incident import SLA, Incident, RaciRole, Severity, Sla, Status
from services.incidents.domain.vocabulary import Verdict
from services.incidents.domain.grading import more_urgent
from services.incidents.domain.grouping import GroupLink, GroupRule
from services.incidents.domain.storm import STORM_PREFIX, StormControl, StormRate, StormRule
from services.incidents.domain.numbering import (
    FingerprintLink, RefCounter, RefIndex, format_ref, parse_ref, ref_scope,
)

__all__ = [
    "NAMESPACE", "SLA", "Sla", "Severity", "Status", "Incident", "FingerprintLink", "RefCounter",
    "RefIndex", "format_ref", "parse_ref", "ref_scope", "IncidentNotFound", "IncidentFinished",
    "AlreadyAcknowledged", "AlreadyResolved", "LinkAlreadyUsed", "NotClosed", "RaciRole", "Verdict",
    "NotReopenable", "SeverityUnchanged", "DowngradeNeedsManager", "more_urgent", "GroupLink",
    "GroupRule", "STORM_PREFIX", "StormControl", "StormRate", "StormRule",
    "NotReopenable", "SeverityUnchanged", "NotClosable", "Closing", "ClosingPath",
    "ClosingPolicy", "parse_closing_paths",
]
