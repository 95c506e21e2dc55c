"""Text that comes from a submission (compiler output, FAIL reasons, thread
names, file names) on its way to a terminal or a report: every C0 and C1
control character but newline and tab, and DEL, is shown as a visible
escape (ESC as \\x1b), so that no submission can move the cursor, clear the
screen, set the terminal's title or draw a fake banner over the grader's."""
from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """text with its control characters (but newline and tab) escaped: \\x1b."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
