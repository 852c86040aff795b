"""Registry entry of the audit domain (see backend/domains.py)."""

from backend.domains import Domain

DOMAIN = Domain(
    name="audit",
    piccolo_app="backend.audit.piccolo_app",
    controllers="backend.audit.controllers:CONTROLLERS",
    public="backend.audit.controllers:PUBLIC",
    jobs="backend.audit.jobs:jobs",
)
