"""The numbers of RULES.md as configuration: defaults here, local values in the database.

An admin changes a value through ``PUT /api/v1/case-rules/{key}``; every rule
reads ``await load_rules()`` so that no number is buried in code.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from typing import Any

from backend.audit import service as audit
from backend.cases.tables import CaseRuleSetting
from backend.core import clock
from backend.core.auth import Principal
from backend.core.db import write_tx
from backend.core.errors import BadRequest


@dataclasses.dataclass(frozen=True)
class CaseRules:
    # Leads: decide whether to file within 15 WD, +15 WD with approval.
    lead_decision_wd: int = 15
    lead_extension_wd: int = 15
    # Decision within 90 days of filing, +30 with the head's approval.
    decision_days: int = 90
    decision_extension_days: int = 30
    min_officers: int = 2
    # Simplified on-site procedure (当场处罚).
    simplified_max_fine_individual: int = 200
    simplified_max_fine_organisation: int = 3000
    # Hearing offered when the fine reaches the threshold.
    hearing_threshold_individual: int = 10000
    hearing_threshold_organisation: int = 100000
    hearing_request_days: int = 5
    hearing_notice_days: int = 7
    # Major decisions need legal review (plus the catalogue's flag and any hearing held).
    major_fine_individual: int = 10000
    major_fine_organisation: int = 100000
    legal_review_wd: int = 7
    legal_review_extension_wd: int = 3
    service_days: int = 7
    publication_wd: int = 7
    payment_days: int = 15
    limitation_years: int = 2
    limitation_years_serious: int = 5
    transfer_acceptance_wd: int = 3
    police_head_decision_days: int = 3
    police_handover_hours: int = 24
    police_decision_days: int = 3
    # File scoring grades: ≥ 90 excellent, 60-89 pass, < 60 fail.
    score_excellent: int = 90
    score_pass: int = 60
    # Case flags that send a township case to the county (急难险重, 特种技术, 跨镇).
    county_flags: tuple[str, ...] = ("cross_township", "urgent_hazardous", "special_technical")


DEFAULTS = CaseRules()
FIELDS = {f.name: f for f in dataclasses.fields(CaseRules)}

_CACHE_TTL_S = 30.0
_cached: tuple[float, CaseRules] | None = None


def forget_cache() -> None:
    global _cached
    _cached = None


def check_value(key: str, value: Any) -> Any:
    """The value in the rule's type, or 400 naming the rule."""
    field = FIELDS.get(key)
    if field is None:
        raise BadRequest(f"unknown rule {key!r}", code="case_rule.unknown")
    default = getattr(DEFAULTS, key)
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise BadRequest(f"rule {key} takes a list of strings", code="case_rule.bad_value")
        return tuple(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadRequest(f"rule {key} takes a non-negative integer", code="case_rule.bad_value")
    return value


async def load_rules() -> CaseRules:
    global _cached
    if _cached and _cached[0] > time.monotonic():
        return _cached[1]
    rows = await CaseRuleSetting.select(CaseRuleSetting.key, CaseRuleSetting.value).run()
    changes = {r["key"]: check_value(r["key"], json.loads(r["value"])) for r in rows}
    rules = dataclasses.replace(DEFAULTS, **changes)
    _cached = (time.monotonic() + _CACHE_TTL_S, rules)
    return rules


def plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


async def set_rule(*, principal: Principal, key: str, value: Any) -> Any:
    """Store the local value of one rule (audited); returns it as plain JSON."""
    checked = plain(check_value(key, value))
    text = json.dumps(checked)
    async with write_tx():
        now = clock.now()
        updated = (
            await CaseRuleSetting.update(
                {
                    CaseRuleSetting.value: text,
                    CaseRuleSetting.updated_by: principal.actor,
                    CaseRuleSetting.updated_at: now,
                }
            )
            .where(CaseRuleSetting.key == key)
            .returning(CaseRuleSetting.id)
            .run()
        )
        if not updated:
            await CaseRuleSetting.insert(
                CaseRuleSetting(
                    id=uuid.uuid4(), key=key, value=text, updated_by=principal.actor, updated_at=now
                )
            ).run()
        await audit.record(
            stream="case_rules",
            action="case_rule.set",
            actor=principal.actor,
            payload={"key": key, "value": checked},
        )
    forget_cache()
    return checked
