"""Value formatting shared by the self-contained HTML reports of experiments/ (every value escaped)."""

from __future__ import annotations

import html
import math
from typing import Any


def esc(value: Any) -> str:
    """HTML-escape any value (quotes included)."""
    return html.escape(str(value), quote=True)


def num(value: Any, spec: str) -> str:
    """A number formatted with ``spec`` and escaped; ``n/a`` for None, NaN and infinities."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, (int, float)):
        return esc(format(value, spec))
    return esc(value)
