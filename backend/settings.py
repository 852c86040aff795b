"""Typed settings read from ``FIELDCASE_*`` environment variables.

A bad value stops start-up with a message that names the variable.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PREFIX = "FIELDCASE_"


class SettingsError(Exception):
    """A setting has a value that cannot be used; the message names the variable."""


@dataclass(frozen=True)
class DatabaseUrl:
    kind: str  # "sqlite" | "postgres"
    path: Path | None = None
    host: str = ""
    port: int = 5432
    user: str = ""
    password: str = ""
    database: str = ""

    @property
    def is_sqlite(self) -> bool:
        return self.kind == "sqlite"


@dataclass(frozen=True)
class StorageUrl:
    kind: str  # "file" | "minio"
    path: Path | None = None
    endpoint: str = ""
    access_key: str = ""
    secret_key: str = ""
    bucket: str = ""
    secure: bool = False
    region: str | None = None


@dataclass(frozen=True)
class Settings:
    database: DatabaseUrl
    storage: StorageUrl
    secret_key: str
    timezone: ZoneInfo
    host: str = "127.0.0.1"
    port: int = 8000
    var_dir: Path = Path("var")
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    login_window_minutes: int = 15
    login_max_failures_per_account: int = 10
    login_max_failures_per_address: int = 50
    log_level: str = "INFO"
    db_pool_size: int = 10
    # Worker processes that hash a large draw's pool (0: hash in the serving process).
    draw_workers: int = field(default_factory=lambda: min(os.cpu_count() or 1, 4))
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def database_url_text(self) -> str:
        if self.database.is_sqlite:
            return f"sqlite:///{self.database.path}"
        return (
            f"postgresql://{self.database.user}@{self.database.host}:"
            f"{self.database.port}/{self.database.database}"
        )


def parse_database_url(
    value: str, *, base: Path, name: str = "FIELDCASE_DATABASE_URL"
) -> DatabaseUrl:
    parts = urlsplit(value)
    if parts.scheme == "sqlite":
        raw = value[len("sqlite://") :]
        if not raw.startswith("/") or raw == "/":
            raise SettingsError(f"{name}: expected sqlite:///relative/path or sqlite:////abs/path")
        raw = raw[1:]
        path = Path(raw)
        if not path.is_absolute():
            path = base / path
        return DatabaseUrl(kind="sqlite", path=path)
    if parts.scheme in ("postgres", "postgresql"):
        if not parts.hostname or not parts.path.strip("/"):
            raise SettingsError(f"{name}: expected postgresql://user:pass@host:port/database")
        try:
            port = parts.port or 5432
        except ValueError as exc:
            raise SettingsError(f"{name}: bad port ({exc})") from None
        return DatabaseUrl(
            kind="postgres",
            host=parts.hostname,
            port=port,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            database=parts.path.strip("/"),
        )
    raise SettingsError(f"{name}: unsupported scheme {parts.scheme!r} (use sqlite or postgresql)")


def parse_storage_url(value: str, *, base: Path, name: str = "FIELDCASE_STORAGE_URL") -> StorageUrl:
    parts = urlsplit(value)
    if parts.scheme == "file":
        raw = value[len("file://") :]
        if not raw:
            raise SettingsError(f"{name}: expected file://relative/path or file:///abs/path")
        path = Path(raw)
        if not path.is_absolute():
            path = base / path
        return StorageUrl(kind="file", path=path)
    if parts.scheme == "minio":
        bucket = parts.path.strip("/")
        if not parts.hostname or not bucket or "/" in bucket:
            raise SettingsError(f"{name}: expected minio://ACCESS:SECRET@host:port/bucket")
        if not parts.username or not parts.password:
            raise SettingsError(f"{name}: access key and secret are required")
        query = parse_qs(parts.query)
        secure_text = query.get("secure", ["false"])[0].lower()
        if secure_text not in ("true", "false", "1", "0"):
            raise SettingsError(f"{name}: secure must be true or false")
        try:
            port = parts.port
        except ValueError as exc:
            raise SettingsError(f"{name}: bad port ({exc})") from None
        return StorageUrl(
            kind="minio",
            endpoint=f"{parts.hostname}:{port}" if port else parts.hostname,
            access_key=unquote(parts.username),
            secret_key=unquote(parts.password),
            bucket=bucket,
            secure=secure_text in ("true", "1"),
            region=query.get("region", [None])[0],
        )
    raise SettingsError(f"{name}: unsupported scheme {parts.scheme!r} (use file or minio)")


def _int(env: dict[str, str], name: str, default: int, *, low: int, high: int) -> int:
    raw = env.get(PREFIX + name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name}: expected an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{PREFIX}{name}: must be between {low} and {high}, got {value}")
    return value


def _secret_key(env: dict[str, str], var_dir: Path) -> str:
    raw = env.get(PREFIX + "SECRET_KEY")
    if raw:
        if len(raw) < 32:
            raise SettingsError(f"{PREFIX}SECRET_KEY: must be at least 32 characters")
        return raw
    key_file = var_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    tmp = key_file.with_suffix(".tmp")
    tmp.write_text(key)
    os.chmod(tmp, 0o600)
    tmp.replace(key_file)
    return key


def load_settings(env: dict[str, str] | None = None, *, base: Path | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    base = base or Path.cwd()
    var_dir = Path(env.get(PREFIX + "VAR_DIR") or "var")
    if not var_dir.is_absolute():
        var_dir = base / var_dir
    database = parse_database_url(
        env.get(PREFIX + "DATABASE_URL") or "sqlite:///var/fieldcase.sqlite3", base=base
    )
    storage = parse_storage_url(env.get(PREFIX + "STORAGE_URL") or "file://var/objects", base=base)
    tz_name = env.get(PREFIX + "TIMEZONE") or "Asia/Shanghai"
    try:
        timezone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"{PREFIX}TIMEZONE: unknown time zone {tz_name!r}") from None
    host = env.get(PREFIX + "HOST") or "127.0.0.1"
    port = _int(env, "PORT", 8000, low=1, high=65535)
    log_level = (env.get(PREFIX + "LOG_LEVEL") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise SettingsError(f"{PREFIX}LOG_LEVEL: expected DEBUG, INFO, WARNING or ERROR")
    return Settings(
        database=database,
        storage=storage,
        secret_key=_secret_key(env, var_dir),
        timezone=timezone,
        host=host,
        port=port,
        var_dir=var_dir,
        access_token_minutes=_int(env, "ACCESS_TOKEN_MINUTES", 15, low=1, high=24 * 60),
        refresh_token_days=_int(env, "REFRESH_TOKEN_DAYS", 30, low=1, high=365),
        login_window_minutes=_int(env, "LOGIN_WINDOW_MINUTES", 15, low=1, high=24 * 60),
        login_max_failures_per_account=_int(env, "LOGIN_MAX_FAILURES", 10, low=1, high=10_000),
        login_max_failures_per_address=_int(
            env, "LOGIN_MAX_FAILURES_PER_ADDRESS", 50, low=1, high=100_000
        ),
        log_level=log_level,
        db_pool_size=_int(env, "DB_POOL_SIZE", 10, low=0, high=500),
        draw_workers=_int(env, "DRAW_WORKERS", min(os.cpu_count() or 1, 4), low=0, high=64),
        extra={k: v for k, v in env.items() if k.startswith(PREFIX)},
    )


_current: Settings | None = None


def get_settings() -> Settings:
    """The process-wide settings, loaded on first use."""
    global _current
    if _current is None:
        _current = load_settings()
    return _current


def use_settings(settings: Settings) -> None:
    """Make ``settings`` the process-wide settings (tests and the CLI)."""
    global _current
    _current = settings
