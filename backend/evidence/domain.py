"""Registry entry of the evidence domain (see backend/domains.py)."""

from backend.domains import Domain

DOMAIN = Domain(
    name="evidence",
    piccolo_app="backend.evidence.piccolo_app",
    controllers="backend.evidence.controllers:CONTROLLERS",
    routers="backend.evidence.controllers:root_handlers",
    jobs="backend.evidence.jobs:jobs",
    deadlines="backend.evidence.deadlines:provide",
    cli="backend.evidence.cli:register",
)
