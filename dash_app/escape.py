"""Text from the documents made inert for what renders it: the tables' markdown, Plotly's labels
and a spreadsheet opening an export.

User ids, run ids, model names and the like are written by whoever runs a trainer. Dash's own
components show text as text, but three places interpret it:
- a DataTable markdown cell (Remarkable, without HTML): ``[x](https://elsewhere)`` is a link,
  ``![](…)`` an image fetched from anywhere, ``<https://…>`` an autolink;
- Plotly's legends, tick labels, hover labels and titles: a subset of HTML (``<a href>``,
  ``<b>``, ``<br>``, entities);
- a spreadsheet: a cell starting with ``=``, ``+``, ``-`` or ``@`` is a formula
  (``=HYPERLINK(…)``, ``=WEBSERVICE(…)``).
"""

import html
import string
from urllib.parse import quote

# Remarkable honours a backslash before any ASCII punctuation. "-" and "." start nothing inline
# (its typographer, which would turn "--" into a dash, is off), so ids like "run-1.2" stay as
# written in the markdown source too.
_MARKDOWN_SPECIAL = frozenset(string.punctuation) - {"-", "."}
_CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def markdown(text: str) -> str:
    """``text`` as literal markdown inline text: every character with a meaning escaped, line
    breaks (which could start a heading or a list) as spaces."""
    flat = text.replace("\r", " ").replace("\n", " ")
    return "".join(f"\\{char}" if char in _MARKDOWN_SPECIAL else char for char in flat)


def path_segment(text: str) -> str:
    """``text`` as one URL path segment: every reserved character percent-encoded, ``/`` too."""
    return quote(text, safe="")


def run_link(run_id: str) -> str:
    """A markdown link to the run's page: the id as literal text, the address from the encoded
    id (``params.route`` decodes it)."""
    return f"[{markdown(run_id)}](/run/{path_segment(run_id)})"


def plotly(text: str) -> str:
    """``text`` for a Plotly legend, tick, hover label or title: ``&``, ``<`` and ``>`` as
    entities, which Plotly shows as the characters."""
    return html.escape(text, quote=False)


def csv_cell(value: object) -> object:
    """A value for a CSV export: text that a spreadsheet would take for a formula gets a leading
    ``'`` (shown as text, the OWASP advice); other values as they are."""
    if isinstance(value, str) and value.startswith(_CSV_FORMULA_STARTS):
        return f"'{value}"
    return value
