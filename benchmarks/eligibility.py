"""Benchmark 免申即享: `onething eligibility run` over a registry of many households.

A throwaway SQLite database holds N residents, each with a household register (a third of
them 80 or over, most in Shinan); the elderly allowance's eligibility rules run over every
one of them. The baseline, measured in the same run on the same database, is the least
a run must do per holder: one registry lookup of the household register. Target on 2
cores: the run costs at most 4× the baseline per holder (the rules themselves, the
evidence and the offers stay cheap beside the lookup), and running it again offers
nothing.

    python benchmarks/eligibility.py [--holders 2000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "platform"), str(REPO / "admin")]


def main() -> None:
    """Measure a run and its baseline; print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--holders", type=int, default=2000)
    args = parser.parse_args()

    from sqlmodel import Session

    from onething.cases import benefits
    from onething.catalog.workdays import china_today
    from onething.publishing.versions import bundle_of, latest_version
    from onething.registry.providers import LocalRegistry
    from onething.registry.service import demo_resident_id, import_licences, lookup
    from onething.web.app import create_app

    today = china_today()
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{folder}/b.db"},
                         instance_path=Path(folder) / "instance")
        rows, codes = [], []
        for index in range(args.holders):
            born = dt.date(1936 + index % 60, 1 + index % 12, 1 + index % 28)
            code = demo_resident_id(f"370202{born:%Y%m%d}{index % 1000:03d}")
            codes.append(code)
            rows.append({"type_code": "household-register", "number": f"HR{index:08d}",
                         "holder_code": code, "holder_name": f"居民{index}",
                         "issuer": "青岛市公安局", "issued_on": "2005-03-01", "trust": "A",
                         "data": {"name": f"居民{index}", "birth_date": born.isoformat(),
                                  "division_code": "370202" if index % 7 else "370212"}})
        with Session(app.extensions["onething.engine"]) as session:
            count, problems = import_licences(session, rows)
            assert not problems and count == args.holders, problems
            session.commit()
            matter = bundle_of(latest_version(session, "elderly-allowance")).catalog.matters[
                "elderly-allowance"]

            started = time.perf_counter()
            provider = LocalRegistry(session)
            for code in codes:
                lookup(provider, code, "household-register", today)
            baseline = time.perf_counter() - started

            started = time.perf_counter()
            created, eligible, examined = benefits.run(session, matter, actor="benchmark")
            run = time.perf_counter() - started

            started = time.perf_counter()
            again, _, _ = benefits.run(session, matter, actor="benchmark")
            rerun = time.perf_counter() - started
        app.extensions["onething.engine"].dispose()

    ratio = run / baseline
    print(f"holders examined: {examined}, eligible: {eligible}, offers: {len(created)}, "
          f"offered again: {len(again)}")
    print(f"baseline (one lookup per holder): {baseline * 1e6 / examined:.0f} µs per holder")
    print(f"eligibility run: {run * 1e6 / examined:.0f} µs per holder "
          f"({ratio:.1f}× the baseline; target ≤ 4×); second run {rerun * 1e6 / examined:.0f} "
          "µs per holder")
    ok = ratio <= 4 and not again and len(created) == eligible
    print("OK" if ok else "MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
