"""Registry entry of the matters domain (see backend/domains.py)."""

from backend.domains import Domain

DOMAIN = Domain(
    name="matters",
    piccolo_app="backend.matters.piccolo_app",
    controllers="backend.matters.controllers:CONTROLLERS",
    cli="backend.matters.cli:register",
)
