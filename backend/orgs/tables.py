"""Org units, grids, teams, officers, certificates, users and their sessions."""

from piccolo.columns import (
    UUID,
    Array,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.table import Table


class OrgUnit(Table, tablename="org_unit"):
    """A level of government: county, township, zone or village."""

    id = UUID(primary_key=True)
    code = Varchar(length=40, unique=True)
    name = Varchar(length=200)
    kind = Varchar(length=20)
    parent = ForeignKey(references="self", on_delete=OnDelete.restrict, null=True, default=None)
    # Materialised path of codes, "/county/township/", for subtree scope checks.
    path = Varchar(length=500, index=True)
    created_at = Timestamptz()


class Grid(Table, tablename="grid"):
    """A geographic cell (网格) on one of three levels."""

    id = UUID(primary_key=True)
    code = Varchar(length=60, unique=True)
    name = Varchar(length=200)
    level = Integer()
    parent = ForeignKey(references="self", on_delete=OnDelete.restrict, null=True, default=None)
    org_unit = ForeignKey(references=OrgUnit, on_delete=OnDelete.restrict, index=True)
    created_at = Timestamptz()


class Team(Table, tablename="team"):
    """An enforcement squad (执法中队)."""

    id = UUID(primary_key=True)
    code = Varchar(length=40, unique=True)
    name = Varchar(length=200)
    org_unit = ForeignKey(references=OrgUnit, on_delete=OnDelete.restrict, index=True)
    domains = Array(base_column=Varchar(length=60))
    grid_codes = Array(base_column=Varchar(length=60))
    created_at = Timestamptz()


class Officer(Table, tablename="officer"):
    """A person who enforces (执法人员)."""

    id = UUID(primary_key=True)
    name = Varchar(length=100)
    badge_no = Varchar(length=40, unique=True)
    org_unit = ForeignKey(references=OrgUnit, on_delete=OnDelete.restrict, index=True)
    status = Varchar(length=20, default="on_duty")
    phone = Varchar(length=40, default="")
    created_at = Timestamptz()


class TeamMember(Table, tablename="team_member"):
    """An officer's membership of a team; (team, officer) is unique."""

    id = UUID(primary_key=True)
    team = ForeignKey(references=Team, on_delete=OnDelete.restrict, index=True)
    officer = ForeignKey(references=Officer, on_delete=OnDelete.restrict, index=True)
    role = Varchar(length=20, default="member")


class Certificate(Table, tablename="certificate"):
    """An enforcement certificate (执法证)."""

    id = UUID(primary_key=True)
    officer = ForeignKey(references=Officer, on_delete=OnDelete.restrict, index=True)
    number = Varchar(length=60, unique=True)
    domains = Array(base_column=Varchar(length=60))
    valid_from = Date()
    valid_to = Date()
    created_at = Timestamptz()


class User(Table, tablename="app_user"):
    """A login account with roles, bound to an org unit and maybe an officer."""

    id = UUID(primary_key=True)
    username = Varchar(length=80, unique=True)
    display_name = Varchar(length=100, default="")
    password_hash = Varchar(length=200)
    roles = Array(base_column=Varchar(length=30))
    org_unit = ForeignKey(references=OrgUnit, on_delete=OnDelete.restrict, index=True)
    officer = ForeignKey(references=Officer, on_delete=OnDelete.restrict, null=True, default=None)
    active = Boolean(default=True)
    created_at = Timestamptz()


class Conflict(Table, tablename="conflict"):
    """A recorded conflict of interest (回避) between an officer and a subject."""

    id = UUID(primary_key=True)
    officer = ForeignKey(references=Officer, on_delete=OnDelete.restrict, index=True)
    subject_code = Varchar(length=18, index=True)
    reason = Text(default="")
    recorded_at = Timestamptz()


class Device(Table, tablename="device"):
    """A phone an officer signed in from; revoking it ends its tokens at once."""

    id = UUID(primary_key=True)
    user = ForeignKey(references=User, on_delete=OnDelete.restrict, index=True)
    device_id = Varchar(length=100)
    platform = Varchar(length=40, default="")
    app_version = Varchar(length=40, default="")
    first_seen = Timestamptz()
    last_seen = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)


class LoginSession(Table, tablename="login_session"):
    """One login (web or device); logout or device revocation ends it at once."""

    id = UUID(primary_key=True)
    user = ForeignKey(references=User, on_delete=OnDelete.restrict, index=True)
    device = ForeignKey(references=Device, on_delete=OnDelete.restrict, null=True, default=None)
    address = Varchar(length=64, default="")
    created_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)


class RefreshToken(Table, tablename="refresh_token"):
    """A rotating refresh token, stored as its SHA-256; reuse of a spent one ends the session."""

    id = UUID(primary_key=True)
    session = ForeignKey(references=LoginSession, on_delete=OnDelete.restrict, index=True)
    token_hash = Varchar(length=64, unique=True)
    issued_at = Timestamptz()
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)


class LoginAttempt(Table, tablename="login_attempt"):
    """One login attempt, for lock-outs after repeated failures."""

    id = UUID(primary_key=True)
    username = Varchar(length=80, index=True)
    address = Varchar(length=64, index=True)
    at = Timestamptz(index=True)
    success = Boolean()
