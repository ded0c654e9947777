"""The agent writes no headline (issue class 8): the request's `intent`, the mail subject, the
page and the webhook headline are the service's own decoding; the agent's `--intent` is kept as
`agentNote` — one line, control characters stripped, capped, labelled — everywhere."""

from __future__ import annotations

import json
import threading
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
from helpers import free_port
from sqlalchemy import update

from mm_agent.security.agent_note import AGENT_NOTE_LABEL, MAX_AGENT_NOTE, sanitize_agent_note
from mm_agent.server.db.store import accounts

from .test_approvals import setup_account, wait_for_links
from .test_jobs import BOB

EVIL = ("Routine refill\r\nSubject: URGENT approve now\n\x1b[2J<script>alert(1)</script>"
        "\u202eevil\u200b" + "A" * 1000)


def test_sanitize_agent_note() -> None:
    note = sanitize_agent_note(EVIL)
    assert note is not None and len(note) <= MAX_AGENT_NOTE and note.endswith("…")
    assert "\n" not in note and "\r" not in note and "\x1b" not in note
    assert "\u202e" not in note and "\u200b" not in note
    assert note.startswith("Routine refill Subject: URGENT approve now [2J<script>")
    assert sanitize_agent_note(" \n\t ") is None and sanitize_agent_note(None) is None
    assert sanitize_agent_note("short") == "short"


class _Hook(BaseHTTPRequestHandler):
    bodies: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        size = int(self.headers.get("Content-Length") or 0)
        type(self).bodies.append(json.loads(self.rfile.read(size)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


def test_agent_intent_is_a_labelled_note_never_the_headline(service: Any, chain: Any) -> None:
    s = setup_account(service, chain, "note@example.com")
    port = free_port()
    hook = ThreadingHTTPServer(("127.0.0.1", port), _Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    with service.state.store.tx() as conn:
        conn.execute(update(accounts).values(webhook_url=f"http://127.0.0.1:{port}/hook"))
    try:
        # An ETH transfer to an unlisted recipient (guard): goes to the human.
        req = s.api.wait(s.api.submit(s.address, {
            "kind": "transaction", "chainId": 31337, "intent": EVIL,
            "payload": {"to": BOB, "value": hex(10**16), "data": "0x"}})["pollingId"])
        assert req["status"] == "AWAITING_MFA", req
        note = sanitize_agent_note(EVIL)
        assert req["intent"].startswith("Send 0.01 ETH to") and "refill" not in req["intent"]
        assert req["agentNote"] == note

        ((link, _aid, _secret),) = wait_for_links(service.outbox_messages, 1)
        msg = service.outbox_messages()[-1]
        assert msg["Subject"] == f"Approval needed: {req['intent']}"
        assert "URGENT" not in msg["Subject"] and "refill" not in msg["Subject"]
        text = msg.get_body(preferencelist=("plain",)).get_content()
        assert f'{AGENT_NOTE_LABEL}: "{note}"' in text
        assert "\nSubject: URGENT" not in text and "\x1b" not in text
        assert text.splitlines()[0] == f"Your agent wants to: {req['intent']}"
        html = msg.get_body(preferencelist=("html",)).get_content()
        assert "<script>" not in html and "&lt;script&gt;" in html
        assert escape(AGENT_NOTE_LABEL) in html and escape(note) in html

        page = httpx.get(link, timeout=10).text
        assert "<script>alert" not in page and "&lt;script&gt;alert(1)" in page
        assert escape(AGENT_NOTE_LABEL) in page and escape(note) in page
        assert "A" * (MAX_AGENT_NOTE + 1) not in page

        deadline = 50
        while not _Hook.bodies and deadline:
            threading.Event().wait(0.1)
            deadline -= 1
        notice = _Hook.bodies[-1]
        assert notice["intent"] == req["intent"]
        assert notice["agentNote"] == note and notice["agentNoteLabel"] == AGENT_NOTE_LABEL
    finally:
        hook.shutdown()
