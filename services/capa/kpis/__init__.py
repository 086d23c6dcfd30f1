"""CAPA key performance indicators: a read model of the facts the KPIs need, the queries
that compute them for a period, and the management-review summary built on them."""
