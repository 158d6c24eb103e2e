"""Benchmarks of spine-auc: each prints its figures and a ratio against a baseline of the same run."""
