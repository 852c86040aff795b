"""Registry entry of the escalations domain (see backend/domains.py)."""

from backend.domains import Domain

DOMAIN = Domain(
    name="escalations",
    piccolo_app="backend.escalations.piccolo_app",
    controllers="backend.escalations.controllers:CONTROLLERS",
    jobs="backend.escalations.jobs:jobs",
    # The scheduler process and its job tools live in scheduler/; this domain owns them.
    cli="scheduler.cli:register",
)
