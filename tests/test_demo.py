"""`make demo` end to end: scripts/demo.py runs as `make demo` runs it (a new process), and
the story's outcomes are checked from the summary it writes (``MM_DEMO_SUMMARY``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_tells_the_whole_story(tmp_path: Path) -> None:
    summary_file = tmp_path / "summary.json"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MM_") and k != "OPENAI_API_KEY"}  # offline: the scripted model
    env["MM_DEMO_SUMMARY"] = str(summary_file)
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py")], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    s = json.loads(summary_file.read_text())
    assert s["story"] == "complete", s
    assert s["byokTransfer"] == "COMPLETED"
    assert s["insidePolicy"] == "COMPLETED"                  # guard, inside the policy
    assert s["overLimit"] == "COMPLETED"                     # approved by the mailed link
    assert s["byokMalicious"] == "APPROVAL_REQUIRED"         # bounced, nothing signed
    assert s["serverMaliciousHeld"] == "AWAITING_MFA"
    assert s["serverMalicious"] == "DENIED" and s["maliciousNeverSigned"] is True
    agent = s["agent"]
    assert agent["paused"] and agent["resumed"] and agent["status"] == "COMPLETED", agent
    # Nothing left behind.
    assert s["clean"] and s["tempDirRemoved"] and not s["processesLeft"] and not s["pidsAlive"]
    assert not Path(s["tempDir"]).exists() and not s["tmpLeftovers"]
    # Narrated: numbered steps, each with its outcome.
    out = proc.stdout
    for n, words in enumerate(["Start the devnet", "BYOK wallet", "Start the wallet service",
                               "Server wallet", "Policy", "inside the policy", "Over the limit",
                               "malicious approval", "LangGraph agent", "Stop everything"], 1):
        assert f"[{n}] " in out and words in out, (n, words, out)
    assert "nothing left running, nothing left in /tmp" in out
