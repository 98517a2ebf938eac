#!/usr/bin/env python3
"""vigipy 3.5.1 on the benchmark's generated tables, as the side-by-side peer of pvwatch.

    bench_vigipy.py DATA_DIR OUT.parquet [--period-end 2025-12-31]

Run by `scripts/bench --vs-vigipy` (examples/bench) inside its own virtual environment,
which times this whole process (wall and peak RSS); the per-step timings printed here on
stderr are for reading only.

What it computes, to match pvwatch's counting (DESIGN.md, "Signals"; src/signals/counts.rs):

- each case's latest version among the versions received by the end of the period: highest
  `version` (default 1), then latest `received_date`, then highest `report_id`
  (src/ingest/versions.rs); `case_id` defaults to `report_id`;
- the background of a class is every such case of that class (first received by the end
  of the period, which all of them are, since only versions received by then count);
- per case, the distinct suspect or interacting products and the distinct events;
- for each (class, product, event) occurring together in at least one case:
  a = cases with both, a+b = cases with the product, a+c = cases with the event,
  N = cases in the class's background.

vigipy's own converters (`convert`, `convert_binary`) count product × event occurrences and
take N as the sum of those counts, not the number of cases, so they are not used: a
`DataContainer` is built per class directly from the per-case counts (its `data` columns
`events` = a, `product_aes` = a+b, `count_across_brands` = a+c, and `N` = the class's
cases), and vigipy's `prr`, `ror`, `bcpnn` and `gps` run on it with `min_events=1` (every
pair, as pvwatch) and otherwise their defaults: GPS fits its prior by maximum likelihood
(truncated at 1, Nelder-Mead), BCPNN is the closed form, PRR and ROR also compute vigipy's
LBE false discovery rates. One container per class because a container has one N; pvwatch
also fits the EBGM prior per class.

The output has one row per pair: class, product_id, event, a, b, c, d, n, and vigipy's
prr, ror, ic025 (BCPNN's 2.5% quantile), ebgm, eb05, eb95; GPS's fitted prior of each class
goes to OUT.parquet.priors.json.
"""

import argparse
import json
import sys
import time

T0 = time.perf_counter()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import vigipy  # noqa: E402

COUNTED_ROLES = ["suspect", "interacting"]


def step(name, since):
    now = time.perf_counter()
    print(f"   vigipy: {name} {now - since:.2f} s", file=sys.stderr)
    return now


def read(path, columns):
    table = pq.read_table(path, columns=columns)
    # string_view columns as plain strings, for pandas.
    table = table.cast(
        pa.schema(
            [
                pa.field(f.name, pa.string() if pa.types.is_string_view(f.type) else f.type)
                for f in table.schema
            ]
        )
    )
    return table.to_pandas()


def latest_cases(data, period_end):
    reports = read(
        f"{data}/reports.parquet",
        ["report_id", "case_id", "version", "received_date", "class"],
    )
    reports = reports[reports["received_date"] <= period_end]
    reports["case_id"] = reports["case_id"].fillna(reports["report_id"])
    reports["version"] = reports["version"].fillna(1)
    reports = reports.sort_values(["case_id", "version", "received_date", "report_id"])
    latest = reports.drop_duplicates("case_id", keep="last")
    latest = latest[["report_id", "case_id", "class"]].reset_index(drop=True)
    latest["case"] = np.arange(len(latest), dtype=np.int64)
    return latest


def per_case(data, latest):
    products = read(f"{data}/report_products.parquet", ["report_id", "product_id", "role"])
    products = products[products["role"].isin(COUNTED_ROLES)]
    products = products.merge(latest[["report_id", "case", "class"]], on="report_id")
    products = products[["case", "class", "product_id"]].drop_duplicates()
    events = read(f"{data}/report_events.parquet", ["report_id", "event"])
    events = events.merge(latest[["report_id", "case"]], on="report_id")
    events = events[["case", "event"]].dropna().drop_duplicates()
    return products, events


def counts(products, events, latest):
    pairs = products.merge(events, on="case")
    a = pairs.groupby(["class", "product_id", "event"], observed=True).size().rename("a")
    ab = products.groupby(["class", "product_id"], observed=True).size().rename("ab")
    ev_class = events.merge(latest[["case", "class"]], on="case")
    ac = ev_class.groupby(["class", "event"], observed=True).size().rename("ac")
    n = latest.groupby("class").size().rename("n")
    out = a.reset_index()
    out = out.merge(ab.reset_index(), on=["class", "product_id"])
    out = out.merge(ac.reset_index(), on=["class", "event"])
    out = out.merge(n.reset_index(), on="class")
    return out


def run_vigipy(cls, df):
    n = int(df["n"].iloc[0])
    data = pd.DataFrame(
        {
            "product_name": df["product_id"].to_numpy(),
            "ae_name": df["event"].to_numpy(),
            "events": df["a"].to_numpy(dtype=np.int64),
            "product_aes": df["ab"].to_numpy(dtype=np.int64),
            "count_across_brands": df["ac"].to_numpy(dtype=np.int64),
        }
    )
    container = vigipy.DataContainer(data=data, N=n, type="contingency")
    t = time.perf_counter()
    prr = vigipy.prr(container, min_events=1)
    t = step(f"{cls}: PRR ({len(data):,} pairs)", t)
    ror = vigipy.ror(container, min_events=1)
    t = step(f"{cls}: ROR", t)
    bcpnn = vigipy.bcpnn(container, min_events=1)
    t = step(f"{cls}: BCPNN", t)
    gps = vigipy.gps(container, min_events=1)
    t = step(f"{cls}: GPS (prior fitted: {np.round(gps.params['prior_param'], 5).tolist()})", t)

    key = ["Product", "Adverse Event"]
    out = prr.all_signals[key + ["PRR"]]
    out = out.merge(ror.all_signals[key + ["ROR"]], on=key)
    out = out.merge(bcpnn.all_signals[key + ["quantile"]], on=key)
    out = out.merge(gps.all_signals[key + ["EBGM", "LowerBound", "UpperBound"]], on=key)
    out = out.rename(
        columns={
            "Product": "product_id",
            "Adverse Event": "event",
            "PRR": "prr",
            "ROR": "ror",
            "quantile": "ic025",
            "EBGM": "ebgm",
            "LowerBound": "eb05",
            "UpperBound": "eb95",
        }
    )
    cells = df[["product_id", "event", "a", "ab", "ac", "n"]]
    out = cells.merge(out, on=["product_id", "event"])
    if len(out) != len(df):
        sys.exit(f"vigipy returned {len(out)} pairs for {cls}, expected {len(df)}")
    out.insert(0, "class", cls)
    return out, [float(x) for x in gps.params["prior_param"]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("out")
    ap.add_argument("--period-end", default="2025-12-31")
    args = ap.parse_args()
    period_end = pd.Timestamp(args.period_end).date()
    print(f"   vigipy {vigipy.__version__}", file=sys.stderr)

    t = step("start-up (imports)", T0)
    latest = latest_cases(args.data, period_end)
    t = step(f"latest versions ({len(latest):,} cases)", t)
    products, events = per_case(args.data, latest)
    t = step("per-case products and events", t)
    table = counts(products, events, latest)
    del products, events, latest
    t = step(f"per-case 2x2 counts ({len(table):,} pairs)", t)

    parts, priors = [], {}
    for cls, df in table.groupby("class", sort=True):
        part, priors[cls] = run_vigipy(cls, df)
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out["b"] = out["ab"] - out["a"]
    out["c"] = out["ac"] - out["a"]
    out["d"] = out["n"] - out["ab"] - out["ac"] + out["a"]
    out = out[
        ["class", "product_id", "event", "a", "b", "c", "d", "n"]
        + ["prr", "ror", "ic025", "ebgm", "eb05", "eb95"]
    ]
    t = time.perf_counter()
    out.to_parquet(args.out, index=False)
    # GPS's fitted prior per class: [alpha1, beta1, alpha2, beta2, w].
    with open(args.out + ".priors.json", "w") as f:
        json.dump(priors, f)
    step("write", t)
    print(f"   vigipy: total {time.perf_counter() - T0:.2f} s, {len(out):,} pairs", file=sys.stderr)


if __name__ == "__main__":
    main()
