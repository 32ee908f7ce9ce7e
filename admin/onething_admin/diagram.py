"""The routing diagram: each approval as a bar over working days, arrows for who waits.

A step counted in calendar days (自然日) is drawn as its working equivalent and
still says its own days.

Parallel approvals (并联审批) sit side by side in time, a waiting one starts
where what it waits for ends, and the critical path is drawn heavier: the
diagram says at a glance why the bundle takes the days it does.
"""

from __future__ import annotations

from dataclasses import dataclass

from onething.catalog.workdays import WORKING_DAYS

DAY = 36  # pixels per working day
ROW = 34
LABEL = 210  # the left column with the matters' names
BAR = 22


@dataclass(frozen=True)
class Bar:
    """One step: where its bar is drawn, and what it says."""

    matter: str
    department: str
    x: int
    y: int
    width: int
    days: int
    critical: bool
    # How `days` count: a calendar-day step's bar is drawn as its working equivalent.
    counting: str = WORKING_DAYS


@dataclass(frozen=True)
class Arrow:
    """From the end of a step to the start of one that waits for it."""

    x1: int
    y1: int
    x2: int
    y2: int


@dataclass(frozen=True)
class Diagram:
    """Everything the SVG template draws."""

    bars: list[Bar]
    arrows: list[Arrow]
    days: int
    width: int
    height: int
    day: int = DAY
    label: int = LABEL

    @property
    def ticks(self) -> list[int]:
        """The day lines: every day up to the last."""
        return list(range(self.days + 1))


def routing_diagram(plan) -> Diagram:
    """Lay a routing plan out as bars (start = finish - promised working days) and arrows."""
    days = max([step.finish_day for step in plan.steps] + [1])
    bars: dict[str, Bar] = {}
    for index, step in enumerate(plan.steps):
        start = step.finish_day - step.promised_working_days
        # An on-the-spot matter (0 days) still gets a sliver, so it can be seen and clicked.
        bars[step.matter] = Bar(step.matter, step.department, LABEL + start * DAY,
                                index * ROW + 8, max(step.promised_working_days * DAY, 6),
                                step.promised_days, step.matter in plan.critical_path,
                                step.counting)
    arrows = []
    for step in plan.steps:
        for before in step.waits_for:
            if before in bars:
                a, b = bars[before], bars[step.matter]
                arrows.append(Arrow(a.x + a.width, a.y + BAR // 2, b.x, b.y + BAR // 2))
    return Diagram(list(bars.values()), arrows, days, LABEL + days * DAY + 20,
                   len(plan.steps) * ROW + 28)
