from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

from backend.core.schemas import Input, Output

RecordKind = Literal["inspection", "inquiry"]
Signature = Literal["signed", "refused"]
Text2000 = Annotated[str, msgspec.Meta(max_length=2000)]


class Party(Input):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    role: Literal["party", "legal_representative", "agent", "witness"] = "party"
    id_number: Annotated[str, msgspec.Meta(max_length=40)] = ""
    phone: Annotated[str, msgspec.Meta(max_length=40)] = ""


class QuestionAnswer(Input):
    question: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    answer: Text2000


class OnsiteRecordIn(Input):
    # The client's UUID, made on the phone.
    id: uuid.UUID
    kind: RecordKind
    place: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    started_at: dt.datetime
    officer_ids: Annotated[list[uuid.UUID], msgspec.Meta(min_length=2, max_length=10)]
    party: Party
    signature: Signature
    task_id: uuid.UUID | None = None
    case_id: uuid.UUID | None = None
    ended_at: dt.datetime | None = None
    # 现场检查笔录: what was found; 询问笔录: the questions and answers.
    findings: Annotated[str, msgspec.Meta(max_length=20000)] = ""
    qa: Annotated[list[QuestionAnswer], msgspec.Meta(max_length=200)] = msgspec.field(
        default_factory=list
    )
    signature_evidence_id: uuid.UUID | None = None
    recording_evidence_id: uuid.UUID | None = None
    refusal_note: Text2000 = ""


class OnsiteRecordPatch(Input):
    # The version the device last saw; a stale one is refused with the current record.
    version: int
    place: Annotated[str, msgspec.Meta(min_length=1, max_length=300)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    ended_at: dt.datetime | msgspec.UnsetType | None = msgspec.UNSET
    findings: Annotated[str, msgspec.Meta(max_length=20000)] | msgspec.UnsetType = msgspec.UNSET
    qa: list[QuestionAnswer] | msgspec.UnsetType = msgspec.UNSET
    signature: Signature | msgspec.UnsetType = msgspec.UNSET
    signature_evidence_id: uuid.UUID | msgspec.UnsetType | None = msgspec.UNSET
    recording_evidence_id: uuid.UUID | msgspec.UnsetType | None = msgspec.UNSET
    refusal_note: Text2000 | msgspec.UnsetType = msgspec.UNSET


class PartyOut(Output):
    name: str
    role: str
    id_number: str
    phone: str


class QuestionAnswerOut(Output):
    question: str
    answer: str


class OnsiteRecordOut(Output):
    id: uuid.UUID
    kind: str
    org_unit_id: uuid.UUID
    task_id: uuid.UUID | None
    case_id: uuid.UUID | None
    place: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    officer_ids: list[uuid.UUID]
    party: PartyOut
    findings: str
    qa: list[QuestionAnswerOut]
    signature: str
    signature_evidence_id: uuid.UUID | None
    recording_evidence_id: uuid.UUID | None
    refusal_note: str
    version: int
    created_by: uuid.UUID
    created_at: dt.datetime
    updated_at: dt.datetime
    device_time: dt.datetime | None
