"""The knowledge base: entries written from closed CAPA cases, searched in Chinese and English,
and recommended for new incidents with the reasons each one matched."""
