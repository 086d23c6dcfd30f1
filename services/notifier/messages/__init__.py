"""What a person reads: a notification rendered for one medium in one language."""
from services.notifier.messages.model import Message
from services.notifier.messages.render import Renderer, render
from services.notifier.messages.templates import TemplateRefused

__all__ = ["Message", "Renderer", "TemplateRefused", "render"]
