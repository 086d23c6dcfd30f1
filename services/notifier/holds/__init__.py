"""Holding an incident's notifications: the decision at opening (routes, quiet rules, trial
mode), the openings read model that is also the firing set, and the worker that releases a
hold when it ends while the incident is still open (docs/quiet.md, adr/holds-and-trial.md)."""
