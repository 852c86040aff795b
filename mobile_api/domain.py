"""Registry entry of the mobile API (see backend/domains.py)."""

from backend.domains import Domain

DOMAIN = Domain(
    name="mobile",
    piccolo_app="mobile_api.piccolo_app",
    routers="mobile_api.router:routers",
    jobs="mobile_api.jobs:jobs",
    demo="mobile_api.demo:seed",
)
