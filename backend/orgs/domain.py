"""Registry entry of the orgs domain (see backend/domains.py)."""

from backend.domains import Domain

DOMAIN = Domain(
    name="orgs",
    piccolo_app="backend.orgs.piccolo_app",
    controllers="backend.orgs.controllers:CONTROLLERS",
)
