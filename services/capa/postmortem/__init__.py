"""Postmortems: one document per CAPA case, built from the case's events and the incident
facts capa heard on the bus, in Markdown, HTML or PDF, in Chinese or English."""
from services.capa.postmortem.facts import postmortem_facts
from services.capa.postmortem.render import FORMATS, LANGUAGES, render

__all__ = ["postmortem_facts", "render", "FORMATS", "LANGUAGES"]
