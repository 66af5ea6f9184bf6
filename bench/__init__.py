"""The benchmark suite: workloads, the DuckDB floor, and the results file (issue 6).

``uv run python -m bench [WORKLOAD ...] [--repeat N] [--quick]``
generates each workload's landing zone, runs it in a fresh process per repeat, and writes
``bench/RESULTS.md`` and ``bench/results/<stamp>.json``.
"""
