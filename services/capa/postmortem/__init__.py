"""Postmortems: one document per CAPA case or systemic problem, built from its events and
the incident facts capa heard on the bus, in Markdown, HTML or PDF, in Chinese or English."""
from services.capa.postmortem.facts import postmortem_facts
from services.capa.postmortem.render import FORMATS, LANGUAGES, render
from services.capa.postmortem.systemic import systemic_postmortem_facts

__all__ = ["postmortem_facts", "systemic_postmortem_facts", "render", "FORMATS", "LANGUAGES"]
