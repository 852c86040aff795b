"""Double-random, one-public inspections: item list, subject directory, plans, draws, tasks."""
