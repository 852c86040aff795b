"""Enforcement matters catalogue (权责清单) and versioned jurisdiction grants (赋权清单)."""
