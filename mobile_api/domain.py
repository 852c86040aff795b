"""Registry entry of the mobile API (see backend/domains.py)."""

from backend.domains import Domain

DOMAIN = Domain(name="mobile", routers="mobile_api.router:routers")
