"""Settings come from FIELDCASE_* variables; a bad value names its variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.settings import SettingsError, load_settings


def _load(tmp_path: Path, **env: str):  # type: ignore[no-untyped-def]
    return load_settings({f"FIELDCASE_{k}": v for k, v in env.items()}, base=tmp_path)


def test_defaults_are_the_embedded_setup(tmp_path: Path) -> None:
    settings = _load(tmp_path)
    assert settings.database.kind == "sqlite"
    assert settings.database.path == tmp_path / "var" / "fieldcase.sqlite3"
    assert settings.storage.kind == "file"
    assert settings.storage.path == tmp_path / "var" / "objects"
    assert str(settings.timezone) == "Asia/Shanghai"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    # The secret key is generated once and kept.
    key_file = tmp_path / "var" / "secret_key"
    assert key_file.read_text() == settings.secret_key
    assert _load(tmp_path).secret_key == settings.secret_key
    assert key_file.stat().st_mode & 0o077 == 0


def test_production_urls(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        DATABASE_URL="postgresql://fc:p%40ss@db.internal:5433/fieldcase",
        STORAGE_URL="minio://AK:SK@minio.internal:9000/evidence?secure=true&region=cn-east-1",
        SECRET_KEY="k" * 40,
    )
    db = settings.database
    assert (db.kind, db.host, db.port, db.user, db.password, db.database) == (
        "postgres",
        "db.internal",
        5433,
        "fc",
        "p@ss",
        "fieldcase",
    )
    st = settings.storage
    assert (
        st.kind,
        st.endpoint,
        st.access_key,
        st.secret_key,
        st.bucket,
        st.secure,
        st.region,
    ) == ("minio", "minio.internal:9000", "AK", "SK", "evidence", True, "cn-east-1")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysql://x/y"),
        ("DATABASE_URL", "postgresql://host-only"),
        ("STORAGE_URL", "minio://host:9000/bucket"),
        ("STORAGE_URL", "s3://bucket"),
        ("SECRET_KEY", "short"),
        ("TIMEZONE", "Mars/Olympus"),
        ("PORT", "eighty"),
        ("PORT", "70000"),
        ("ACCESS_TOKEN_MINUTES", "0"),
        ("DB_POOL_SIZE", "-1"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_bad_value_names_the_variable(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        _load(tmp_path, **{name: value})
    assert str(caught.value).startswith(f"FIELDCASE_{name}")
