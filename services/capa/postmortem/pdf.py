"""HTML → PDF through WeasyPrint. Chinese needs a CJK font on the host (fonts-noto-cjk); the
stylesheet names Noto Sans CJK first and falls back to whatever fontconfig has."""
from __future__ import annotations


def html_to_pdf(html: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=html).write_pdf()
