"""Registry entry of the on-site records domain (see backend/domains.py)."""

from backend.domains import Domain

DOMAIN = Domain(
    name="onsite",
    piccolo_app="backend.onsite.piccolo_app",
    controllers="backend.onsite.controllers:CONTROLLERS",
)
