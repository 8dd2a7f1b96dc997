"""A concise, self-contained HTML model report (plots inlined as data URIs, every value escaped)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pandas as pd

TEMPLATE = "model_report.html.j2"


def _table_html(frame: pd.DataFrame, digits: int = 4) -> str:
    """An escaped HTML table of aggregates (DataFrame.to_html escapes cell text)."""
    return frame.to_html(index=False, float_format=lambda v: f"{v:.{digits}f}", border=0, escape=True)


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def render_model_report(context: dict[str, Any], *, gain: pd.DataFrame, top_k: pd.DataFrame,
                        importance: pd.DataFrame, images: dict[str, Path]) -> str:
    """Render the report. ``context`` carries the scalars named in the template."""
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
                             autoescape=True)
    return env.get_template(TEMPLATE).render(
        **context,
        gain_html=Markup(_table_html(gain)),
        topk_html=Markup(_table_html(top_k)),
        importance_html=Markup(_table_html(importance.head(15))),
        images=[(title, _data_uri(path)) for title, path in images.items()],
    )


def write_model_report(path: Path, html: str) -> Path:
    from kequn.io import write_text

    return write_text(path, html)
