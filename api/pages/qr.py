"""A QR code as inline SVG (segno), for a printed guide to lead a phone to its online page."""

from __future__ import annotations

import io

import segno


def qr_svg(url: str, title: str = "扫码打开在线办事指南") -> str:
    out = io.BytesIO()
    segno.make(url, error="m").save(
        out, kind="svg", scale=3, border=2, xmldecl=False, svgns=True, title=title, svgclass="qr"
    )
    return out.getvalue().decode().replace("<svg ", f'<svg role="img" aria-label="{title}" ', 1)
