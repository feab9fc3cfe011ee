"""rolebinder's benchmark harness: API calls, engine overhead, cold start, sweeps, burst, baselines.

Every scenario runs the real handlers and the real SDK against the fake cloud (`fakecloud/`) and
reports its measured value beside a lower bound and the ratio. `python -m bench` (or
`python3 dev.py bench`) runs them all and publishes `bench/results.json` and
`docs/PERFORMANCE.md`; `--quick` is a smoke run with small sizes; `--only FAMILY` runs one family.

Modules: `harness` (the fake cloud in-process, fleets, the handler path, the gateway timer),
`bounds` (lower bounds from the API's batch limits and rate limits), one module per scenario
family (`calls`, `overhead`, `coldstart`, `sweeps`, `burst`, `baselines`, `org`: a hub's
sweep of a simulated organisation, with `orgworld` and `fccontainer`), and `report`
(results.json, the Markdown page, the plots).
"""
