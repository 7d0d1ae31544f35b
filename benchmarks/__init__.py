"""Benchmarks of backorder_ops against a plain-pandas baseline (issue 3).

- :mod:`benchmarks.generate`: seeded catalogs and batch sheets in ``benchmarks/data/``
- :mod:`benchmarks.baseline`: the same job as an analyst writes it without the toolkit
- :mod:`benchmarks.run`: both side by side, stage by stage, in fresh subprocesses
"""
