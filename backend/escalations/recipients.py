"""Who hears about an escalation: the ladder of recipient groups resolved to user accounts.

``assignees`` are the deadline's users plus the accounts of its officers;
``squad_leader`` the squad leaders of the deadline's org unit; ``head`` the heads
of that unit or, if it has none, of the nearest unit above; ``command_centre``
the supervisors of the county (the root unit above it). A level whose groups
name nobody falls through to the next group of the ladder, so it never fires
silently.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from backend.escalations.defaults import RECIPIENT_GROUPS
from backend.orgs.tables import Officer, OrgUnit, User


@dataclass(frozen=True)
class Person:
    user_id: uuid.UUID
    username: str
    display_name: str
    phone: str


@dataclass
class Directory:
    """A snapshot of active users and org units, loaded once per sweep."""

    users: dict[uuid.UUID, Person] = field(default_factory=dict)
    by_officer: dict[uuid.UUID, list[uuid.UUID]] = field(default_factory=dict)
    by_unit_role: dict[tuple[uuid.UUID, str], list[uuid.UUID]] = field(default_factory=dict)
    parent: dict[uuid.UUID, uuid.UUID | None] = field(default_factory=dict)

    def _role_in(self, unit: uuid.UUID, role: str) -> list[uuid.UUID]:
        return self.by_unit_role.get((unit, role), [])

    def _ancestors(self, unit: uuid.UUID | None) -> Iterable[uuid.UUID]:
        seen: set[uuid.UUID] = set()
        while unit is not None and unit not in seen:
            seen.add(unit)
            yield unit
            unit = self.parent.get(unit)

    def group(
        self,
        name: str,
        *,
        org_unit_id: uuid.UUID | None,
        officer_ids: Sequence[uuid.UUID],
        user_ids: Sequence[uuid.UUID],
    ) -> list[uuid.UUID]:
        if name == "assignees":
            found = [u for u in user_ids if u in self.users]
            for officer in officer_ids:
                found.extend(self.by_officer.get(officer, []))
            return found
        if name == "squad_leader":
            return self._role_in(org_unit_id, "squad_leader") if org_unit_id else []
        if name == "head":
            for unit in self._ancestors(org_unit_id):
                if heads := self._role_in(unit, "head"):
                    return heads
            return []
        if name == "command_centre":
            units = list(self._ancestors(org_unit_id))
            return self._role_in(units[-1], "supervisor") if units else []
        raise ValueError(f"unknown recipient group {name}")

    def recipients(
        self,
        groups: Sequence[str],
        *,
        org_unit_id: uuid.UUID | None,
        officer_ids: Sequence[uuid.UUID],
        user_ids: Sequence[uuid.UUID],
    ) -> list[Person]:
        args: dict[str, Any] = {
            "org_unit_id": org_unit_id,
            "officer_ids": officer_ids,
            "user_ids": user_ids,
        }
        chosen: list[uuid.UUID] = []
        for name in groups:
            chosen.extend(self.group(name, **args))
        if not chosen:
            # Fall through the ladder past the last named group until someone answers.
            start = max((RECIPIENT_GROUPS.index(g) for g in groups), default=-1) + 1
            for name in RECIPIENT_GROUPS[start:]:
                if chosen := self.group(name, **args):
                    break
        unique = dict.fromkeys(chosen)
        return [self.users[u] for u in unique if u in self.users]


async def load_directory() -> Directory:
    units = await OrgUnit.select(OrgUnit.id, OrgUnit.parent).run()
    phones = {r["id"]: r["phone"] for r in await Officer.select(Officer.id, Officer.phone).run()}
    users = (
        await User.select(
            User.id, User.username, User.display_name, User.roles, User.org_unit, User.officer
        )
        .where(User.active == True)  # noqa: E712
        .run()
    )
    directory = Directory(parent={u["id"]: u["parent"] for u in units})
    for row in users:
        uid = row["id"]
        directory.users[uid] = Person(
            user_id=uid,
            username=row["username"],
            display_name=row["display_name"],
            phone=phones.get(row["officer"], "") if row["officer"] else "",
        )
        if row["officer"]:
            directory.by_officer.setdefault(row["officer"], []).append(uid)
        for role in row["roles"] or []:
            directory.by_unit_role.setdefault((row["org_unit"], role), []).append(uid)
    return directory
