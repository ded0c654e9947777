"""The agent's own words about a request (``--intent``), made safe to show a human.

The headline a human reads (mail subject, page title, webhook ``intent``) is always the
engine's decoding of what will be signed. Whatever the agent says about it is kept as
``agentNote``: ONE line, no control or invisible formatting characters (newlines would forge
extra lines of a mail, bidi overrides would reorder what the human reads, zero-width
characters hide text), length-capped, and always shown labelled as the agent's words. This is
the one place that sanitises it; every surface (BYOK records, service jobs, mail, page,
webhook) stores or shows only its result.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["AGENT_NOTE_LABEL", "MAX_AGENT_NOTE", "sanitize_agent_note"]

MAX_AGENT_NOTE = 140
AGENT_NOTE_LABEL = "Agent's note (unverified, written by the agent)"
# Cc controls (incl. CR/LF/TAB/ESC), Cf format characters (bidi overrides, zero-width), line
# and paragraph separators, private-use and unassigned code points, surrogates.
_DROP = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cn", "Cs"})
_SPACES = re.compile(r"\s+")


def sanitize_agent_note(text: object, limit: int = MAX_AGENT_NOTE) -> str | None:
    """One clean line of at most ``limit`` characters, or None when nothing is left."""
    if text is None:
        return None
    raw = unicodedata.normalize("NFKC", str(text))
    # Line breaks and tabs become spaces (words stay apart); other invisibles just go.
    kept = "".join(" " if ch in "\r\n\t\v\f\x85\u2028\u2029" else ch for ch in raw
                   if ch in "\r\n\t\v\f\x85\u2028\u2029"
                   or unicodedata.category(ch) not in _DROP)
    line = _SPACES.sub(" ", kept).strip()
    if not line:
        return None
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
