"""A concise, self-contained HTML model report (plots inlined as data URIs, every value escaped)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from experiments._html import data_uri, render_template

TEMPLATE = "model_report.html.j2"


def _table_html(frame: pd.DataFrame, digits: int = 4) -> str:
    """An escaped HTML table of aggregates (DataFrame.to_html escapes cell text)."""
    return frame.to_html(index=False, float_format=lambda v: f"{v:.{digits}f}", border=0, escape=True)


def _data_uri(path: Path) -> str:
    return data_uri(path.read_bytes())


def render_model_report(context: dict[str, Any], *, gain: pd.DataFrame, top_k: pd.DataFrame,
                        importance: pd.DataFrame, images: dict[str, Path]) -> str:
    """Render the report. ``context`` carries the scalars named in the template."""
    from markupsafe import Markup

    return render_template(
        TEMPLATE,
        **context,
        gain_html=Markup(_table_html(gain)),
        topk_html=Markup(_table_html(top_k)),
        importance_html=Markup(_table_html(importance.head(15))),
        images=[(title, _data_uri(path)) for title, path in images.items()],
    )


def write_model_report(path: Path, html: str) -> Path:
    from kequn.io import write_text

    return write_text(path, html)
