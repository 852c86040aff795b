"""On-site records (现场检查笔录, 询问笔录) written by officers in the field."""
