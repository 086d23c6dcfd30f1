"""The organisation unit of each incident's entity, heard from the notifier's public
IncidentStaffed: what the CAPA KPIs filter and group by (docs/adr/capa-kpis-by-unit.md)."""
