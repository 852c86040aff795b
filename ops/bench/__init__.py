"""Benchmarks: ``python -m ops.bench`` runs every module's ``main()`` (or name some modules)."""
