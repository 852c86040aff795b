"""The OpenAPI document builds: every schema of every domain can be described."""

from __future__ import annotations

from pathlib import Path

from backend.app import create_app
from backend.settings import load_settings


def test_openapi_document_covers_every_router(tmp_path: Path) -> None:
    settings = load_settings({"FIELDCASE_VAR_DIR": str(tmp_path)}, base=tmp_path)
    app = create_app(settings)
    document = app.openapi_schema.to_schema()
    assert document["info"]["title"] == "Fieldcase"
    paths = document["paths"]
    assert "/api/v1/auth/login" in paths
    assert "/api/v1/org-units" in paths
    for prefix in ("/api/v1/", "/mobile/v1/", "/public/"):
        assert any(p.startswith(prefix) for p in paths), prefix
