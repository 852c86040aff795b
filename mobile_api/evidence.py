"""Evidence upload sessions for phones: the same handlers as the web API's /api/v1/evidence."""

from backend.evidence.controllers import EvidenceController

HANDLERS = [EvidenceController]
