"""`python -m bench`: run the scenario families, write the results, draw the plots, publish.

    python -m bench                    # everything, full sizes; publishes bench/results.json,
                                       # docs/PERFORMANCE.md and docs/perf/*.png
    python -m bench --quick            # a smoke run with small sizes; writes only under --out
    python -m bench --only sweeps      # one family (repeatable); full sizes also publish it

Raw results (results.json), plots and profiles always go to --out (default bench/out/).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from bench import baselines, burst, calls, coldstart, org, overhead, plots, report, sweeps
from bench.harness import ROOT, log
from bench.result import Options

FAMILIES: dict[str, ModuleType] = {
    "calls": calls,
    "overhead": overhead,
    "coldstart": coldstart,
    "sweeps": sweeps,
    "burst": burst,
    "baselines": baselines,
    "org": org,
}


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(FAMILIES),
        metavar="SCENARIO",
        help=f"run only this family (repeatable): {', '.join(FAMILIES)}",
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "out", help="plots, raw JSON, profiles"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    options = Options(quick=args.quick, out=args.out.resolve())
    options.out.mkdir(parents=True, exist_ok=True)
    families: dict[str, Any] = {}
    for name in args.only or FAMILIES:
        log(f"--- {name} ---")
        started, load = time.monotonic(), report.load()
        rows = FAMILIES[name].run(options)
        families[name] = {
            "measured_at": report.now(),
            "seconds": round(time.monotonic() - started, 1),
            "quick": args.quick,
            "revision": report.revision(),
            # Other work on the machine skews times (not call counts): 1-minute load averages.
            "load_before_after": [load, report.load()],
            "rows": [row.to_json() for row in rows],
        }
        for row in rows:
            print(row.line(), flush=True)
    document = {"generated": report.now(), "machine": report.machine(), "families": families}
    (options.out / "results.json").write_text(json.dumps(document, indent=1) + "\n")
    if args.quick:
        drawn = plots.draw(document, options.out)
    else:
        document = report.merged(families)
        drawn = plots.draw(document, options.out)
        report.publish(document, drawn)
        log(f"published {report.RESULTS.relative_to(ROOT)} and {report.PAGE.relative_to(ROOT)}")
    if not drawn:
        log("no plots drawn (matplotlib missing: install the `bench` extra)")
    log(f"raw results in {options.out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
