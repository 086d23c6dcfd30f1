"""HTML → PDF through WeasyPrint (pango underneath). Chinese needs a CJK font on the host:
the stylesheet names WenQuanYi Micro Hei (fonts-wqy-microhei) first, then Noto Sans CJK."""
from __future__ import annotations


def html_to_pdf(html: str) -> bytes:
    from weasyprint import HTML  # loads pango: only when a PDF is asked for

    return HTML(string=html).write_pdf()
