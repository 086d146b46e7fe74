"""Where the test material lives."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
# the real MIDIMon configs, beside the project (read-only)
COMPAT = REPO.parent / "shared" / "compat" / "midimon"
