"""Registry entry of the calendar domain (see backend/domains.py)."""

from backend.domains import Domain

DOMAIN = Domain(
    name="calendar",
    piccolo_app="backend.calendar.piccolo_app",
    controllers="backend.calendar.controllers:CONTROLLERS",
    jobs="backend.calendar.jobs:jobs",
)
