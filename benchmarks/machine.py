"""The machine's own jitter: how much longer the same work takes at p99 than at p50.

A p99 target is met or missed partly by the machine. On a shared virtual machine the
same pure-Python work takes several times longer while the host lends the cores to
someone else (measured here: 2 ms of work taking up to 20 ms, in bursts of about a
third of a second every second and a half). The benchmarks print this line beside
their figures, measured in the same run, so that a missed p99 can be told apart: a
request whose p99 is its p50 times this factor was slowed by the machine, not by the
app.

    python benchmarks/machine.py [--seconds 3]

The other benchmarks measure it for ONETHING_BENCH_JITTER_SECONDS (3 by default; the
tests, which check only that the benchmarks run, make it short).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def _work() -> int:
    """A fixed piece of pure-Python work (about 2 ms on the development machine)."""
    total = 0
    for number in range(30_000):
        total += number * number % 7
    return total


def jitter(seconds: float = 3.0) -> tuple[float, float]:
    """The p50 and p99 in milliseconds of the fixed work, repeated for `seconds`."""
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        _work()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), percentile(times, 0.99)


def percentile(times: list[float], share: float) -> float:
    """The value below which `share` of the sorted times lie."""
    return times[min(len(times) - 1, int(len(times) * share))]


def line(label: str, seconds: float | None = None) -> str:
    """The jitter as one printed line."""
    p50, p99 = jitter(seconds if seconds is not None else
                      float(os.environ.get("ONETHING_BENCH_JITTER_SECONDS", "3")))
    return (f"[{label}] machine: the same {p50:.1f} ms of Python work takes {p99:.1f} ms at "
            f"p99 ({p99 / p50:.1f}×): a request's p99 this many times its p50 is the "
            "machine's")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    print(line("machine", parser.parse_args().seconds))
