"""What a person reads: a notification rendered for one medium in one language."""
from services.notifier.messages.model import Message
from services.notifier.messages.render import render

__all__ = ["Message", "render"]
