"""Server-rendered HTML shared by the pages (sign-in, pairing) and the approval mail/page.

Plain string templates: every interpolated value goes through ``html.escape`` (``e``). No
JavaScript. Responses forbid framing, referrers (URLs carry link secrets) and caching. A leaf:
services (the approval mail) and routes (the pages) both use it.
"""

from __future__ import annotations

from html import escape

from fastapi.responses import HTMLResponse

from mm_agent.errors import MMError

__all__ = ["SECURITY_HEADERS", "e", "error_page", "layout", "page"]

SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
background:#f6f6f4;color:#1d1d1b;line-height:1.5}
main{max-width:34rem;margin:0 auto;padding:1.5rem 1rem 3rem}
h1{font-size:1.4rem;margin:.5rem 0 1rem}
.card{background:#fff;border:1px solid #ddd;border-radius:10px;padding:1rem 1.2rem;margin:1rem 0}
label{display:block;font-weight:600;margin:.8rem 0 .3rem}
input[type=email],input[type=text]{width:100%;box-sizing:border-box;font-size:1.1rem;
padding:.6rem;border:1px solid #aaa;border-radius:6px}
button{font-size:1.05rem;padding:.6rem 1.2rem;margin-top:1rem;border:0;border-radius:6px;
background:#1f6feb;color:#fff;cursor:pointer}
button.secondary{background:#6e7781}
code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
.ok{color:#1a7f37}.err{color:#cf222e}.muted{color:#57606a;font-size:.9rem}
.qr svg{width:100%;max-width:260px;height:auto;display:block;margin:.5rem auto}
""".strip()


def e(value: object) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return escape("" if value is None else str(value), quote=True)


def layout(title: str, body: str) -> str:
    """A whole page. ``title`` is escaped here; ``body`` must already be safe HTML."""
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<meta name=\"referrer\" content=\"no-referrer\">"
        f"<title>{e(title)} · mm-agent</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{e(title)}</h1>\n{body}\n</main></body></html>"
    )


def page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(layout(title, body), status_code=status_code, headers=SECURITY_HEADERS)


def error_page(err: MMError, title: str = "Something went wrong") -> HTMLResponse:
    hint = f'<p class="muted">{e(err.hint)}</p>' if err.hint else ""
    body = f'<div class="card"><p class="err">{e(err.message)}</p>{hint}</div>'
    return page(title, body, err.http_status)
