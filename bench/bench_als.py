"""ALS fit time through Beacon's recommender vs a bare ``implicit`` fit on the same matrix.

10k users x 5k items x 1M synthetic interactions, same factors / iterations / threads. Beacon's
time includes everything ``ALSRecommender.fit`` does on top of ``implicit`` (normalising the
frame, building the CSR matrix, popularity tables); the target is within 1.2x of the bare fit.
Serving time (user factors recalculated from each user's history, as the registered,
user-free model does) is printed for information.

    .venv/bin/python bench/bench_als.py [--users 10000 --items 5000 --interactions 1000000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from ml.interactions import build_matrix, normalise_interactions
from ml.recommenders import ALSRecommender
from ml.synthetic import synthetic_interactions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="best of N for each side")
    args = parser.parse_args()
    params = {"factors": args.factors, "iterations": args.iterations, "num_threads": args.threads}

    inter, _ = synthetic_interactions(
        n_users=args.users, n_items=args.items, n_interactions=args.interactions, n_clusters=20, seed=0
    )
    # the exact matrix Beacon's ALS factorises: summed weights per (user, item), log1p-scaled
    matrix = build_matrix(normalise_interactions(inter)).matrix.copy()
    matrix.data = np.log1p(matrix.data)
    print(
        f"data: {matrix.shape[0]} users x {matrix.shape[1]} items, {inter.height} interactions, {matrix.nnz} non-zeros"
    )
    print(
        f"params: factors={args.factors} iterations={args.iterations} threads={args.threads} (BLAS 1 thread)"
    )

    from implicit.cpu.als import AlternatingLeastSquares

    def bare() -> tuple[float, float]:
        start, cpu = time.perf_counter(), time.process_time()
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=args.factors,
                regularization=10.0,
                alpha=1.0,
                iterations=args.iterations,
                num_threads=args.threads,
                random_state=42,
            )
            model.fit(matrix, show_progress=False)
        return time.perf_counter() - start, time.process_time() - cpu

    fitted: list[ALSRecommender] = []

    def ours() -> tuple[float, float]:
        start, cpu = time.perf_counter(), time.process_time()
        fitted[:] = [ALSRecommender(regularization=10.0, alpha=1.0, random_state=42, **params).fit(inter)]
        return time.perf_counter() - start, time.process_time() - cpu

    bare_runs, our_runs = [], []
    for _ in range(args.repeats):  # interleaved, so machine load hits both sides alike
        bare_runs.append(bare())
        our_runs.append(ours())
    for label, runs in (("bare implicit fit", bare_runs), ("Beacon ALSRecommender.fit", our_runs)):
        walls = ", ".join(f"{w:.2f}" for w, _ in runs)
        print(
            f"{label:26s} wall best {min(w for w, _ in runs):6.2f} s, cpu best {min(c for _, c in runs):6.2f} s  (wall runs: {walls})"
        )
    wall = min(w for w, _ in our_runs) / min(w for w, _ in bare_runs)
    cpu = min(c for _, c in our_runs) / min(c for _, c in bare_runs)
    # CPU time is the steadier figure on a shared machine; wall time is what a user waits
    # serving cost of the user-free model: every user's factors solved from their history, top-10
    users = inter.get_column("user_id").unique()
    start = time.perf_counter()
    recs = fitted[0].recommend(users, k=10)
    print(
        f"Beacon recommend, {len(users)} users (factors recalculated from history, top-10): "
        f"{time.perf_counter() - start:.2f} s wall, {recs.height} rows"
    )
    print(
        f"ratio wall {wall:.2f}x, cpu {cpu:.2f}x (target <= 1.20x) -> {'OK' if min(wall, cpu) <= 1.2 else 'ABOVE TARGET'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
