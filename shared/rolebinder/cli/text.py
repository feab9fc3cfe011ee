"""Text from the cloud, made safe for a terminal: no markup, no control sequences.

Tag values, role names and event ids are chosen by whoever may tag an instance. Printed as
they are, `[/bold]` crashes rich's markup parser for the whole table, `[link=...]` makes a
clickable link, and ANSI escapes recolour or rewrite the operator's terminal. Every table cell
and every interpolated value the CLI prints goes through here.
"""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text

from rolebinder.intake.readers import printable


def clean(value: object) -> str:
    """`value` as one printable line: control characters shown as \\xNN, never interpreted."""
    return printable(str(value))


def cell(value: object) -> Text:
    """A table cell that rich never parses as markup."""
    return Text(clean(value))


def markup_safe(value: object) -> str:
    """`value` for interpolation into a rich markup string (escaped, controls removed)."""
    return escape(clean(value))
