"""Approval push: a JSON notice POSTed to the account's webhook URL (contract §7, optional push).

The notice carries the approval page link (with its single-use secret): the webhook is set by
the operator, never by the agent, and is the push equivalent of the approval mail. Delivery runs
in a background thread with bounded retries so a slow or dead hook never holds up a job. Only
status codes are logged: the URL may carry credentials and the body carries the link secret.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import httpx

__all__ = ["ATTEMPTS", "TIMEOUT", "deliver", "push"]

log = logging.getLogger("mm_agent.server.services.webhooks")

ATTEMPTS = 3
BACKOFF = (0.2, 0.5)  # seconds before the 2nd and 3rd attempt
TIMEOUT = 5.0


def _retryable(status: int) -> bool:
    return status >= 500 or status in (408, 429)


def deliver(url: str, payload: dict[str, Any]) -> bool:
    """POST ``payload`` as JSON, retrying transient failures; True once a 2xx came back."""
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(BACKOFF[min(attempt - 1, len(BACKOFF) - 1)])
        try:
            # No redirects: a hook that redirects elsewhere must not receive the link secret.
            resp = httpx.post(url, json=payload, timeout=TIMEOUT, follow_redirects=False,
                              headers={"User-Agent": "mm-agent-webhook/1"})
        except httpx.HTTPError as exc:
            log.warning("webhook attempt %d failed (%s)", attempt + 1, type(exc).__name__)
            continue
        if 200 <= resp.status_code < 300:
            log.info("webhook delivered (HTTP %d)", resp.status_code)
            return True
        log.warning("webhook attempt %d answered HTTP %d", attempt + 1, resp.status_code)
        if not _retryable(resp.status_code):
            return False
    log.error("webhook not delivered after %d attempts", ATTEMPTS)
    return False


def push(url: str, payload: dict[str, Any]) -> threading.Thread:
    """Deliver in the background; returns the (daemon) thread, which tests may join."""
    thread = threading.Thread(target=deliver, args=(url, payload), name="mm-webhook",
                              daemon=True)
    thread.start()
    return thread
