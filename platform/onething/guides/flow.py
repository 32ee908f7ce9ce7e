"""The flow diagram of a routing plan, drawn on the server as inline SVG.

A phone is narrow, so the diagram is a timeline with one row per step rather
than a graph drawn left to right: each row names the step's department and
matter, its promised days (working days, or calendar days where its law counts
them so) and the steps it waits for, and a bar shows when it runs on a shared
axis of working days. Steps whose bars start together run in
parallel (并联); a step that waits starts where the last of its predecessors
ends. The critical path (the committed time limit) is drawn in the accent
colour, steps that apply only in some situations with a dashed outline.

The SVG is 360 units wide and scales to its container, so on a 360 px phone
one unit is one CSS pixel and the 12–14 px text stays readable. Screen readers
get a title and a description that says in words what the picture shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import ngettext
from markupsafe import Markup, escape

from onething.catalog.workdays import CALENDAR_DAYS, WORKING_DAYS
from onething.composer.routing import RoutingPlan, Step
from onething.web.i18n import department_name, matter_name

WIDTH = 360
PAD = 12
NAME_SIZE = 14
SMALL_SIZE = 12
LINE = 19
BAR = 12
ROW_GAP = 14
MAX_LINES = 2

INK = "#1b1f24"
MUTED = "#5a6470"
TRACK = "#eef1f4"
CRITICAL = "#b3261e"
OTHER = "#3d5a73"

# Circled numbers name the steps in the rows ("after ①"); plain digits past twenty.
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
_WIDE = "…—“”‘’"
_TOKEN = re.compile(r"[\u2e80-\uffff]|[^\s\u2e80-\uffff]+\s*|\s+")


@dataclass
class Row:
    """One step as drawn: its number, texts, start and finish day."""

    number: int
    step: Step
    department: str
    matter: str
    start: int
    finish: int
    critical: bool
    conditional: bool
    after: list[int]


def step_label(number: int) -> str:
    """The mark that names a step in the diagram: ① … ⑳, then (21)."""
    return _CIRCLED[number - 1] if number <= len(_CIRCLED) else f"({number})"


def text_width(text: str, size: float) -> float:
    """Estimate how wide a text is drawn: CJK characters are square, others about half."""
    # CJK fonts draw the ellipsis, dashes and curly quotes full width too: better too wide.
    return sum(size if ord(char) >= 0x2E80 or char in _WIDE else size * 0.56 for char in text)


def wrap(text: str, size: float, width: float, max_lines: int = MAX_LINES) -> list[str]:
    """Break a text into lines that fit a width, CJK anywhere and other words whole."""
    lines: list[str] = []
    current = ""
    for token in _TOKEN.findall(text):
        if current and text_width(current + token.rstrip(), size) > width:
            lines.append(current.rstrip())
            current = token.lstrip()
        else:
            current += token
    if current.strip():
        lines.append(current.rstrip())
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and text_width(last + "…", size) > width:
            last = last[:-1]
        lines = [*lines[:max_lines - 1], last.rstrip() + "…"]
    return lines or [""]


def days_text(days: int, counting: str = WORKING_DAYS) -> str:
    """'3 working days' or '30 calendar days', or 'same day' for a matter handled on the spot."""
    if days == 0:
        return _("same day")
    if counting == CALENDAR_DAYS:
        return ngettext("%(num)s calendar day", "%(num)s calendar days", days)
    return ngettext("%(num)s working day", "%(num)s working days", days)


def rows_of(plan: RoutingPlan, catalog) -> list[Row]:
    """The plan's steps in the order they start, numbered, with what each waits for."""
    ordered = sorted(enumerate(plan.steps),
                     key=lambda pair: (pair[1].finish_day - pair[1].promised_working_days,
                                       pair[0]))
    numbers = {step.matter: number for number, (_index, step) in enumerate(ordered, start=1)}
    rows = []
    for number, (_index, step) in enumerate(ordered, start=1):
        rows.append(Row(
            number=number,
            step=step,
            department=department_name(step.department, catalog),
            matter=matter_name(step.matter, catalog),
            start=step.finish_day - step.promised_working_days,
            finish=step.finish_day,
            critical=step.matter in plan.critical_path,
            conditional=step.condition is not None,
            after=sorted(numbers[code] for code in step.waits_for if code in numbers),
        ))
    return rows


def describe(plan: RoutingPlan, catalog, rows: list[Row] | None = None) -> str:
    """The diagram in words, for screen readers and for people who prefer text."""
    rows = rows_of(plan, catalog) if rows is None else rows
    parts = []
    for row in rows:
        when = (_("after step %(steps)s", steps=", ".join(str(n) for n in row.after))
                if row.after else _("starts at once, in parallel"))
        extra = f" ({_('if it applies to you')})" if row.conditional else ""
        parts.append(f"{row.number}. {row.matter}, {row.department}: "
                     f"{days_text(row.step.promised_days, row.step.counting)}, {when}{extra}.")
    total = _("In all: %(days)s, instead of %(serial)s one after another.",
              days=days_text(plan.critical_path_days), serial=days_text(plan.serial_days))
    return " ".join([*parts, total])


def flow_svg(plan: RoutingPlan, catalog, title: str, ident: str = "flow") -> Markup:
    """The plan as an accessible inline SVG timeline (role=img, <title> and <desc>)."""
    rows = rows_of(plan, catalog)
    total = max(plan.critical_path_days, 1)
    left, right = PAD, WIDTH - PAD
    span = right - left

    def x_at(day: int) -> float:
        return round(left + span * day / total, 1)

    parts: list[str] = []
    y = 8.0
    # The day axis: a handful of ticks, so the labels never collide at 360 units.
    step_days = max(1, -(-total // 5))
    parts.append(f'<text x="{left}" y="{y + SMALL_SIZE}" font-size="{SMALL_SIZE}" '
                 f'fill="{MUTED}">{escape(_("Working days"))}</text>')
    y += SMALL_SIZE + 8
    for day in range(0, total + 1, step_days):
        anchor = "start" if day == 0 else "end" if day == total else "middle"
        parts.append(f'<text x="{x_at(day)}" y="{y + SMALL_SIZE}" font-size="{SMALL_SIZE}" '
                     f'fill="{MUTED}" text-anchor="{anchor}">{day}</text>')
    if total % step_days:
        parts.append(f'<text x="{x_at(total)}" y="{y + SMALL_SIZE}" font-size="{SMALL_SIZE}" '
                     f'fill="{MUTED}" text-anchor="end">{total}</text>')
    y += SMALL_SIZE + 6
    axis_top = y
    parts.append(f'<line x1="{left}" y1="{y}" x2="{right}" y2="{y}" stroke="{MUTED}" '
                 f'stroke-width="1"/>')
    y += 10

    for row in rows:
        colour = CRITICAL if row.critical else OTHER
        meta = [f"{row.department}", days_text(row.step.promised_days, row.step.counting)]
        if row.after:
            meta.append(_("after %(steps)s", steps="".join(step_label(n) for n in row.after)))
        if row.conditional:
            meta.append(_("if it applies"))
        head = f"{step_label(row.number)} " + " · ".join(meta)
        for line in wrap(head, SMALL_SIZE, span):
            y += SMALL_SIZE + 2
            parts.append(f'<text x="{left}" y="{y}" font-size="{SMALL_SIZE}" '
                         f'fill="{MUTED}">{escape(line)}</text>')
        for line in wrap(row.matter, NAME_SIZE, span):
            y += LINE
            parts.append(f'<text x="{left}" y="{y}" font-size="{NAME_SIZE}" font-weight="600" '
                         f'fill="{INK}">{escape(line)}</text>')
        y += 8
        parts.append(f'<rect x="{left}" y="{y}" width="{span}" height="{BAR}" rx="3" '
                     f'fill="{TRACK}"/>')
        dash = ' stroke-dasharray="4 3"' if row.conditional else ""
        if row.finish > row.start:
            width = max(x_at(row.finish) - x_at(row.start), 3)
            fill = "#fff" if row.conditional else colour
            parts.append(f'<rect x="{x_at(row.start)}" y="{y}" width="{width}" height="{BAR}" '
                         f'rx="3" fill="{fill}" stroke="{colour}" stroke-width="2"{dash}/>')
        else:
            # Handled on the spot: a diamond on the day it happens.
            cx, cy, r = max(x_at(row.start), left + BAR / 2), y + BAR / 2, BAR / 2 + 1
            cx = min(cx, right - r)
            fill = "#fff" if row.conditional else colour
            parts.append(f'<path d="M{cx} {cy - r}L{cx + r} {cy}L{cx} {cy + r}L{cx - r} {cy}Z" '
                         f'fill="{fill}" stroke="{colour}" stroke-width="2"{dash}/>')
        y += BAR + ROW_GAP

    # Faint day lines behind the rows make "starts together" easy to see.
    grid = [f'<line x1="{x_at(day)}" y1="{axis_top}" x2="{x_at(day)}" y2="{y - ROW_GAP}" '
            f'stroke="{TRACK}" stroke-width="1"/>'
            for day in range(step_days, total, step_days)]
    summary = _("In all: %(days)s, instead of %(serial)s one after another.",
                days=days_text(plan.critical_path_days), serial=days_text(plan.serial_days))
    lines = wrap(summary, NAME_SIZE, span, 3)
    for line in lines:
        y += LINE
        parts.append(f'<text x="{left}" y="{y}" font-size="{NAME_SIZE}" font-weight="600" '
                     f'fill="{INK}">{escape(line)}</text>')
    height = round(y + 10)
    title_id, desc_id = f"{ident}-title", f"{ident}-desc"
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="flow" id="{escape(ident)}" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
        f'aria-label="{escape(title)}" aria-describedby="{escape(desc_id)}" '
        f'font-family="system-ui, &quot;PingFang SC&quot;, &quot;Noto Sans CJK SC&quot;, '
        f'&quot;Microsoft YaHei&quot;, sans-serif">'
        f'<title id="{escape(title_id)}">{escape(title)}</title>'
        f'<desc id="{escape(desc_id)}">{escape(describe(plan, catalog, rows))}</desc>'
        + "".join(grid) + "".join(parts) + "</svg>"
    )
    return Markup(svg)
