#!/usr/bin/env python3
"""Time scikit-learn's RandomForestRegressor on rows exported by forest.bench.ts.

Reads <dir>/{X_train,y_train,X_test,y_test}.f64 (little-endian float64, row-major)
so both trainers see bit-identical inputs, and prints one JSON line per n_jobs value.
Only fit() is timed: interpreter start-up and file loading are not training cost.
"""
import argparse
import json
import os
import time

import numpy as np
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import r2_score


def load(d, name, cols):
    a = np.fromfile(os.path.join(d, name), dtype="<f8")
    return a.reshape(-1, cols) if cols else a


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--features", type=int, required=True)
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--max-depth", type=int, default=14)
    ap.add_argument("--min-leaf", type=int, default=5)
    ap.add_argument("--max-features", type=float, default=1 / 3)
    ap.add_argument("--jobs", default="1,2")
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    X = load(a.dir, "X_train.f64", a.features)
    y = load(a.dir, "y_train.f64", 0)
    Xt = load(a.dir, "X_test.f64", a.features)
    yt = load(a.dir, "y_test.f64", 0)
    for jobs in [int(j) for j in a.jobs.split(",")]:
        m = RandomForestRegressor(
            n_estimators=a.trees,
            max_depth=a.max_depth,
            min_samples_leaf=a.min_leaf,
            max_features=a.max_features,
            bootstrap=True,
            n_jobs=jobs,
            random_state=a.seed,
        )
        t0 = time.perf_counter()
        m.fit(X, y)
        fit_s = time.perf_counter() - t0
        r2 = r2_score(yt, m.predict(Xt))
        nodes = int(sum(e.tree_.node_count for e in m.estimators_))
        print(json.dumps({"n_jobs": jobs, "fit_s": fit_s, "r2": r2, "nodes": nodes}), flush=True)


if __name__ == "__main__":
    main()
