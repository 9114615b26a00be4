"""The scenarios of scripts/bench.py, one module each, on a shared harness."""
