"""移送: moving a case between units (escalate / delegate / lateral) or to the police.

A transfer carries a manifest of the whole file (documents, evidence with hashes,
audit trail). The receiving unit accepts or rejects within 3 working days with
reasons; on acceptance the case moves and the sender keeps read-only access; a
rejection leaves the case (and its whole file) with the sender.
Police transfers (行刑衔接, 国务院令第310号): the head decides within 3 days, the
hand-over follows within 24 hours, and the police decision is recorded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from typing import Any, Literal

import msgspec

from backend.calendar.service import due_in_days, due_in_working_days, load_calendar
from backend.cases import casefile, lifecycle
from backend.cases import service as cases
from backend.cases.concurrency import bump_version
from backend.cases.leads import local_day
from backend.cases.rules import load_rules
from backend.cases.tables import Case, CaseAccess, CaseOfficer, Transfer
from backend.core import clock
from backend.core.auth import Principal
from backend.core.db import write_tx
from backend.core.errors import BadRequest, Conflict, NotFound
from backend.core.schemas import Input, Output
from backend.orgs.tables import OrgUnit

TransferKind = Literal["escalate", "delegate", "lateral", "to_police"]
SENDERS = ("head", "squad_leader")
RECEIVERS = ("head", "squad_leader")


class TransferIn(Input):
    kind: TransferKind
    reason: str
    to_org_unit_id: uuid.UUID | None = None
    police_agency: str = ""
    version: int | None = None


class TransferAnswerIn(Input):
    reason: str = ""


class PoliceDecisionIn(Input):
    accepted: bool
    decision: str


class TransferOut(Output):
    id: uuid.UUID
    case_id: uuid.UUID
    kind: str
    from_org_unit_id: uuid.UUID
    to_org_unit_id: uuid.UUID | None
    police_agency: str
    status: str
    reason: str
    manifest_sha256: str
    respond_by: dt.date
    respond_by_provisional: bool
    responded_at: dt.datetime | None
    response_reason: str
    handover_due_at: dt.datetime | None
    handed_over_at: dt.datetime | None
    police_decision_by: dt.date | None
    police_decision: str
    requested_at: dt.datetime


def _columns() -> list[Any]:
    return [
        Transfer.id,
        Transfer.case.as_alias("case_id"),
        Transfer.kind,
        Transfer.from_org.as_alias("from_org_unit_id"),
        Transfer.to_org.as_alias("to_org_unit_id"),
        Transfer.police_agency,
        Transfer.status,
        Transfer.reason,
        Transfer.manifest_sha256,
        Transfer.respond_by,
        Transfer.respond_by_provisional,
        Transfer.responded_at,
        Transfer.response_reason,
        Transfer.handover_due_at,
        Transfer.handed_over_at,
        Transfer.police_decision_by,
        Transfer.police_decision,
        Transfer.requested_at,
        Transfer.version,
    ]


def _out(row: dict[str, Any]) -> TransferOut:
    return msgspec.convert(row, TransferOut, strict=False)


async def _get(transfer_id: uuid.UUID) -> dict[str, Any]:
    row = await Transfer.select(*_columns()).where(Transfer.id == transfer_id).first().run()
    if row is None:
        raise NotFound("transfer not found", code="transfer.not_found")
    return row


async def manifest_of(principal: Principal, case_id: uuid.UUID) -> dict[str, Any]:
    """The whole file at the moment of sending: documents, evidence with hashes, audit trail."""
    docs = await casefile.documents_of(case_id)
    evidence = await casefile.evidence_of(principal, case_id)
    trail = await casefile.timeline_of(case_id)
    return {
        "case_id": str(case_id),
        "documents": [
            {"id": str(d.id), "stage": d.stage, "kind": d.kind, "title": d.title,
             "sha256": d.sha256}
            for d in docs
        ],
        "evidence": [
            {"id": str(e.get("id")), "kind": e.get("kind"), "sha256": e.get("sha256"),
             "status": e.get("status")}
            for e in evidence
        ],
        "audit": [{"seq": e["seq"], "action": e["action"], "hash": e["hash"]} for e in trail],
    }  # fmt: skip


async def _check_destination(
    kind: str, from_org: dict[str, Any], to_org_id: uuid.UUID | None
) -> dict[str, Any] | None:
    if kind == "to_police":
        return None
    if to_org_id is None:
        raise BadRequest("to_org_unit_id is required", code="transfer.destination_required")
    to_org = await OrgUnit.select().where(OrgUnit.id == to_org_id).first().run()
    if to_org is None:
        raise NotFound("org unit not found", code="org_unit.not_found")
    township = ("township", "zone")
    ok = {
        "escalate": from_org["kind"] in township
        and to_org["kind"] == "county"
        and from_org["parent"] == to_org["id"],
        "delegate": from_org["kind"] == "county"
        and to_org["kind"] in township
        and to_org["parent"] == from_org["id"],
        "lateral": to_org["id"] != from_org["id"]
        and to_org["kind"] == from_org["kind"]
        and to_org["parent"] == from_org["parent"],
    }[kind]
    if not ok:
        raise BadRequest(
            f"a {kind} transfer cannot go from a {from_org['kind']} to that {to_org['kind']}",
            code="transfer.bad_destination",
        )
    return to_org


async def request_transfer(
    *, principal: Principal, case_id: uuid.UUID, data: TransferIn
) -> TransferOut:
    if not data.reason.strip():
        raise BadRequest("a transfer needs a reason", code="transfer.reason_required")
    if data.kind == "to_police":
        if not data.police_agency.strip():
            raise BadRequest("name the police agency", code="transfer.police_agency_required")
        cases.require_case_role(principal, ("officer", *SENDERS), "preparing a police transfer")
    else:
        cases.require_case_role(principal, SENDERS, f"a transfer ({data.kind})")
    rules = await load_rules()
    cal = await load_calendar()
    now = clock.now()
    day = local_day(now)
    transfer_id = uuid.uuid4()
    async with write_tx():
        row = await cases.load_case(principal, case_id, write=True)
        if row["status"] in lifecycle.FINISHED_STATUSES:
            raise Conflict(f"a {row['status']} case cannot be transferred", code="case.bad_status")
        if data.version is not None and data.version != row["version"]:
            raise Conflict("the case was changed by someone else; reload",
                           code="case.version_conflict")  # fmt: skip
        if await Transfer.exists().where(
            (Transfer.case == case_id)
            & Transfer.status.is_in(["requested", "approved", "handed_over"])
        ):
            raise Conflict("the case already has a transfer under way", code="transfer.pending")
        from_org = await OrgUnit.select().where(OrgUnit.id == row["org_unit_id"]).first().run()
        assert from_org is not None
        to_org = await _check_destination(data.kind, from_org, data.to_org_unit_id)
        if data.kind == "to_police":
            facts = await cases.gather_facts(row)
            if len(facts.certified_officers(day)) < rules.min_officers:
                raise Conflict(
                    f"a police transfer is prepared by at least {rules.min_officers} certified "
                    "officers of the case",
                    code="case.preconditions_unmet",
                    extra={"unmet": [{"check": "officers",
                                      "detail": "; ".join(lifecycle.CHECKS["officers"](facts))}]},
                )  # fmt: skip
            due = due_in_days(cal, day, rules.police_head_decision_days, rule="head's decision")
        else:
            due = due_in_working_days(
                cal, day, rules.transfer_acceptance_wd, rule="transfer acceptance"
            )
        manifest = await manifest_of(principal, case_id)
        text = json.dumps(manifest, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(text.encode()).hexdigest()
        await Transfer.insert(
            Transfer(
                id=transfer_id,
                case=case_id,
                kind=data.kind,
                from_org=row["org_unit_id"],
                to_org=to_org["id"] if to_org else None,
                police_agency=data.police_agency,
                status="requested",
                reason=data.reason,
                manifest=text,
                manifest_sha256=digest,
                case_status=row["status"],
                requested_by=principal.actor,
                requested_at=now,
                respond_by=due.date,
                respond_by_provisional=due.provisional,
                updated_at=now,
                version=1,
            )
        ).run()
        if to_org is not None:
            await CaseAccess.insert(
                CaseAccess(id=uuid.uuid4(), case=case_id, org_unit=to_org["id"],
                           transfer_id=transfer_id, granted_at=now)
            ).run()  # fmt: skip
        await Case.update({Case.updated_at: now}).where(Case.id == case_id).run()
        await cases.add_document(
            case_id=case_id,
            stage="execution" if data.kind == "to_police" else "filing",
            kind=f"transfer_{data.kind}",
            title="涉嫌犯罪案件移送书" if data.kind == "to_police" else "案件移送函",
            body=f"{data.reason}\nmanifest sha256 {digest}",
            actor=principal.actor,
        )
        await cases.record_case_event(
            row,
            action="case.transfer.requested",
            actor=principal.actor,
            payload={"transfer_id": transfer_id, "kind": data.kind,
                     "to_org_unit_id": to_org["id"] if to_org else None,
                     "police_agency": data.police_agency, "manifest_sha256": digest,
                     "respond_by": due.date},
        )  # fmt: skip
    return _out(await _get(transfer_id))


async def _incoming(principal: Principal, transfer_id: uuid.UUID) -> dict[str, Any]:
    """A transfer the principal's unit receives (404 for anyone else)."""
    transfer = await _get(transfer_id)
    if transfer["to_org_unit_id"] is None or not principal.sees_org(transfer["to_org_unit_id"]):
        raise NotFound("transfer not found", code="transfer.not_found")
    cases.require_case_role(principal, RECEIVERS, "accepting or rejecting a transfer")
    if transfer["status"] != "requested":
        raise Conflict(f"the transfer is already {transfer['status']}", code="transfer.answered")
    return transfer


async def accept_transfer(
    *, principal: Principal, transfer_id: uuid.UUID, reason: str = ""
) -> TransferOut:
    now = clock.now()
    async with write_tx():
        transfer = await _incoming(principal, transfer_id)
        case_id = transfer["case_id"]
        row = await Case.select(*cases._case_columns()).where(Case.id == case_id).first().run()
        assert row is not None
        await bump_version(
            Transfer, transfer_id, seen=transfer["version"],
            changes={Transfer.status: "accepted", Transfer.responded_at: now,
                     Transfer.responded_by: principal.actor, Transfer.response_reason: reason},
            what="transfer",
        )  # fmt: skip
        await bump_version(
            Case, case_id, seen=row["version"],
            changes={Case.org_unit: transfer["to_org_unit_id"], Case.team: None},
            what="case",
        )  # fmt: skip
        # The sending unit's officers leave the case; the receiver assigns its own team.
        await (
            CaseOfficer.update({CaseOfficer.removed_at: now})
            .where((CaseOfficer.case == case_id) & CaseOfficer.removed_at.is_null())
            .run()
        )
        await (
            CaseAccess.update({CaseAccess.revoked_at: now})
            .where((CaseAccess.case == case_id) & (CaseAccess.transfer_id == transfer_id))
            .run()
        )
        await CaseAccess.insert(
            CaseAccess(id=uuid.uuid4(), case=case_id, org_unit=transfer["from_org_unit_id"],
                       transfer_id=transfer_id, granted_at=now)
        ).run()  # fmt: skip
        await cases.refresh_deadlines(case_id)
        await cases.record_case_event(
            {**row, "org_unit_id": transfer["to_org_unit_id"]},
            action="case.transfer.accepted",
            actor=principal.actor,
            payload={"transfer_id": transfer_id, "from_org_unit_id": transfer["from_org_unit_id"],
                     "to_org_unit_id": transfer["to_org_unit_id"], "reason": reason},
        )  # fmt: skip
    return _out(await _get(transfer_id))


async def reject_transfer(
    *, principal: Principal, transfer_id: uuid.UUID, reason: str
) -> TransferOut:
    """A rejection names its reasons; the case stays with the sender, its file untouched."""
    if not reason.strip():
        raise BadRequest("a rejection needs reasons", code="transfer.reason_required")
    now = clock.now()
    async with write_tx():
        transfer = await _incoming(principal, transfer_id)
        case_id = transfer["case_id"]
        row = await Case.select(*cases._case_columns()).where(Case.id == case_id).first().run()
        assert row is not None
        await bump_version(
            Transfer, transfer_id, seen=transfer["version"],
            changes={Transfer.status: "rejected", Transfer.responded_at: now,
                     Transfer.responded_by: principal.actor, Transfer.response_reason: reason},
            what="transfer",
        )  # fmt: skip
        await (
            CaseAccess.update({CaseAccess.revoked_at: now})
            .where((CaseAccess.case == case_id) & (CaseAccess.transfer_id == transfer_id))
            .run()
        )
        await Case.update({Case.updated_at: now}).where(Case.id == case_id).run()
        await cases.record_case_event(
            row,
            action="case.transfer.rejected",
            actor=principal.actor,
            payload={"transfer_id": transfer_id, "reason": reason},
        )
    return _out(await _get(transfer_id))


async def _police(principal: Principal, transfer_id: uuid.UUID, status: str) -> dict[str, Any]:
    transfer = await _get(transfer_id)
    if transfer["kind"] != "to_police":
        raise NotFound("police transfer not found", code="transfer.not_found")
    await cases.load_case(principal, transfer["case_id"], write=True)
    if transfer["status"] != status:
        raise Conflict(f"the transfer is {transfer['status']}", code="transfer.bad_status")
    return transfer


async def decide_police_transfer(
    *, principal: Principal, transfer_id: uuid.UUID, approve: bool, reason: str = ""
) -> TransferOut:
    """The head approves (hand-over due within 24 h) or refuses, with reasons, within 3 days."""
    cases.require_case_role(principal, ("head",), "deciding a police transfer")
    if not approve and not reason.strip():
        raise BadRequest("a refusal needs reasons", code="transfer.reason_required")
    rules = await load_rules()
    now = clock.now()
    async with write_tx():
        transfer = await _police(principal, transfer_id, "requested")
        changes: dict[Any, Any] = {
            Transfer.status: "approved" if approve else "refused",
            Transfer.responded_at: now,
            Transfer.responded_by: principal.actor,
            Transfer.response_reason: reason,
        }
        if approve:
            changes[Transfer.handover_due_at] = now + dt.timedelta(
                hours=rules.police_handover_hours
            )
        await bump_version(
            Transfer, transfer_id, seen=transfer["version"], changes=changes, what="transfer"
        )
        row = await cases.load_case(principal, transfer["case_id"], write=True)
        await Case.update({Case.updated_at: now}).where(Case.id == row["id"]).run()
        await cases.record_case_event(
            row,
            action="case.transfer.police_approved" if approve else "case.transfer.police_refused",
            actor=principal.actor,
            payload={"transfer_id": transfer_id, "reason": reason},
        )
    return _out(await _get(transfer_id))


async def hand_over_to_police(*, principal: Principal, transfer_id: uuid.UUID) -> TransferOut:
    cases.check_write_role(principal, "police_hand_over")
    rules = await load_rules()
    cal = await load_calendar()
    now = clock.now()
    async with write_tx():
        transfer = await _police(principal, transfer_id, "approved")
        due = due_in_days(cal, local_day(now), rules.police_decision_days, rule="police decision")
        await bump_version(
            Transfer, transfer_id, seen=transfer["version"],
            changes={Transfer.status: "handed_over", Transfer.handed_over_at: now,
                     Transfer.police_decision_by: due.date},
            what="transfer",
        )  # fmt: skip
        row = await cases.load_case(principal, transfer["case_id"], write=True)
        await Case.update({Case.updated_at: now}).where(Case.id == row["id"]).run()
        await cases.record_case_event(
            row,
            action="case.transfer.handed_over",
            actor=principal.actor,
            payload={"transfer_id": transfer_id, "late": now > transfer["handover_due_at"]},
        )
    return _out(await _get(transfer_id))


async def record_police_decision(
    *, principal: Principal, transfer_id: uuid.UUID, data: PoliceDecisionIn
) -> TransferOut:
    """立案 by the police closes the case here as ``transferred_out``; a refusal returns it."""
    cases.check_write_role(principal, "police_decision")
    if not data.decision.strip():
        raise BadRequest("record the police decision", code="transfer.decision_required")
    now = clock.now()
    async with write_tx():
        transfer = await _police(principal, transfer_id, "handed_over")
        await bump_version(
            Transfer, transfer_id, seen=transfer["version"],
            changes={Transfer.status: "police_accepted" if data.accepted else "police_rejected",
                     Transfer.police_decided_at: now, Transfer.police_decision: data.decision},
            what="transfer",
        )  # fmt: skip
        if data.accepted:
            await cases.apply_transition(
                principal=principal,
                case_id=transfer["case_id"],
                action="transfer_out",
                version=None,
                note=data.decision,
                payload={"transfer_id": transfer_id},
                check_role=False,
            )
        else:
            row = await cases.load_case(principal, transfer["case_id"], write=True)
            await Case.update({Case.updated_at: now}).where(Case.id == row["id"]).run()
            await cases.record_case_event(
                row,
                action="case.transfer.police_rejected",
                actor=principal.actor,
                payload={"transfer_id": transfer_id, "decision": data.decision},
            )
    return _out(await _get(transfer_id))


async def list_transfers(
    *, principal: Principal, case_id: uuid.UUID | None = None, incoming: bool = False
) -> list[TransferOut]:
    query = Transfer.select(*_columns())
    if case_id is not None:
        await cases.load_case(principal, case_id, write=False)
        query = query.where(Transfer.case == case_id)
    elif incoming:
        scope_ids = list(principal.scope_org_ids) or [uuid.UUID(int=0)]
        query = query.where(Transfer.status == "requested")
        if not principal.unrestricted:
            query = query.where(Transfer.to_org.is_in(scope_ids))
    else:
        raise BadRequest("give case_id or incoming=true", code="transfer.filter_required")
    return [_out(r) for r in await query.order_by(Transfer.requested_at).run()]


async def get_manifest(*, principal: Principal, transfer_id: uuid.UUID) -> dict[str, Any]:
    transfer = await _get(transfer_id)
    visible = principal.sees_org(transfer["from_org_unit_id"]) or (
        transfer["to_org_unit_id"] is not None and principal.sees_org(transfer["to_org_unit_id"])
    )
    if not visible:
        raise NotFound("transfer not found", code="transfer.not_found")
    raw = await Transfer.select(Transfer.manifest).where(Transfer.id == transfer_id).first().run()
    assert raw is not None
    return {"sha256": transfer["manifest_sha256"], "manifest": json.loads(raw["manifest"])}
