"""Which CRM wrote a file: vendor profiles detected from the header row.

A profile names the vendor in the import summary ("looks like a Zoho export") and brings
what the headers alone do not say: the vendor's standard stage order and default stage
probabilities (so stages an import creates are ordered as the rep's old CRM ordered them,
and stage conversion means something), and how its record ids look. Header aliases live in
``crm_tui.io.mapping`` (one table for every vendor: a header means the same wherever it comes
from); the markers here are the headers that only one vendor writes.

Detection counts each profile's marker headers in the file (after ``header_key``
normalisation); the profile with the most wins, ties mean "not sure" and no profile is named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from crm_tui.textnorm import name_key


@dataclass(frozen=True)
class Profile:
    key: str
    label: str
    #: header keys (``mapping.header_key``) only this vendor's exports carry
    markers: frozenset[str]
    #: open stages in the vendor's standard order, with their default win probability (%)
    stages: tuple[tuple[str, int], ...] = ()
    #: a header matching this pattern counts as one marker (Salesforce custom fields end "__c")
    pattern: re.Pattern[str] | None = field(default=None)

    def stage_rank(self, name: str) -> tuple[int, int] | None:
        """(position in the standard order, default probability) of a stage name, if standard."""
        key = name_key(name)
        for pos, (stage, probability) in enumerate(self.stages):
            if name_key(stage) == key:
                return pos, probability
        return None


def _keys(*names: str) -> frozenset[str]:
    from crm_tui.io.mapping import header_key

    return frozenset(header_key(n) for n in names)


SALESFORCE = Profile(
    "salesforce",
    "Salesforce",
    _keys(
        "StageName",
        "IsWon",
        "IsClosed",
        "IsDeleted",
        "OwnerId",
        "CreatedById",
        "LastModifiedDate",
        "SystemModstamp",
        "ForecastCategory",
        "ForecastCategoryName",
        "CurrencyIsoCode",
        "Opportunity ID",
        "Opportunity Name",
        "Opportunity Owner",
        "AccountSource",
        "Owner.Name",
        "Account.Name",
        "ActivityDate",
        "WhoId",
        "WhatId",
        "Fiscal Period",
    ),
    (
        ("Prospecting", 10),
        ("Qualification", 10),
        ("Needs Analysis", 20),
        ("Value Proposition", 50),
        ("Id. Decision Makers", 60),
        ("Perception Analysis", 70),
        ("Proposal/Price Quote", 75),
        ("Negotiation/Review", 90),
    ),
    re.compile(r"__c$", re.IGNORECASE),
)

HUBSPOT = Profile(
    "hubspot",
    "HubSpot",
    _keys(
        "Deal Stage",
        "Deal owner",
        "Contact owner",
        "Company owner",
        "Lifecycle Stage",
        "Associated Company",
        "Associated Company (Primary)",
        "Associated Company ID",
        "Associated Company IDs",
        "Company Domain Name",
        "hs_object_id",
        "hubspot_owner_id",
        "dealname",
        "dealstage",
        "createdate",
        "Number of Associated Contacts",
        "Last Activity Date",
        "Original Source",
        "Lead Status",
    ),
    (
        ("Appointment Scheduled", 20),
        ("Qualified To Buy", 40),
        ("Presentation Scheduled", 60),
        ("Decision Maker Bought-In", 80),
        ("Contract Sent", 90),
    ),
)

PIPEDRIVE = Profile(
    "pipedrive",
    "Pipedrive",
    _keys(
        "Deal created", "Won time", "Lost time", "Add time", "Currency of Value", "Update time", "Next activity date"
    ),
    (
        ("Qualified", 10),
        ("Contact Made", 20),
        ("Demo Scheduled", 40),
        ("Needs Defined", 40),
        ("Proposal Made", 60),
        ("Negotiations Started", 80),
    ),
)

ZOHO = Profile(
    "zoho",
    "Zoho",
    _keys(
        "Potential Owner",
        "Potential Name",
        "Closing Date",
        "Created Time",
        "Modified Time",
        "Account Type",
        "Account Id",
        "Contact Name",
        "Expected Revenue",
        "Reason For Loss",
        "SMOWNERID",
        "Task Owner",
        "Closed Time",
    ),
    (
        ("Qualification", 10),
        ("Needs Analysis", 20),
        ("Value Proposition", 40),
        ("Identify Decision Makers", 60),
        ("Id. Decision Makers", 60),
        ("Proposal/Price Quote", 75),
        ("Negotiation/Review", 90),
    ),
    re.compile(r"__s$", re.IGNORECASE),
)

CRM_TUI = Profile(
    "crm-tui",
    "crm-tui",
    _keys(
        "external_id",
        "customer_external_id",
        "expected_close",
        "closed_at",
        "line_number",
        "due_at",
        "done_at",
        "stage_position",
        "task_subject",
    ),
)

PROFILES = (SALESFORCE, HUBSPOT, PIPEDRIVE, ZOHO, CRM_TUI)
_PIPEDRIVE_PREFIX = re.compile(r"^\s*(deal|organization|organisation|person|activity|product|lead)\s+-\s+", re.I)
_EXACT = re.compile(r"^[a-z_]+$")


def detect(headers: list[str]) -> Profile | None:
    """The profile whose marker headers the file carries most; None when none or a tie."""
    from crm_tui.io.mapping import header_key

    keys = [header_key(h) for h in headers]
    scores: dict[str, int] = {}
    for profile in PROFILES:
        score = sum(1 for k in keys if k in profile.markers)
        if profile.pattern is not None:
            score += sum(1 for h in headers if profile.pattern.search(str(h).strip()))
        if profile is PIPEDRIVE:
            score += 2 * sum(1 for h in headers if _PIPEDRIVE_PREFIX.match(str(h)))
        if profile is CRM_TUI:
            # our own headers are bare field names (snake_case), never labels
            score = score if all(_EXACT.match(str(h)) for h in headers) else 0
            score *= 2
        if profile is SALESFORCE:
            # Data Loader writes API names in capitals: ID, ACCOUNTID, ISWON
            score += sum(1 for h in headers if str(h) in ("ISWON", "ISCLOSED", "ACCOUNTID", "STAGENAME", "OWNERID"))
        if score:
            scores[profile.key] = score
    if not scores:
        return None
    best = max(scores.values())
    winners = [p for p in PROFILES if scores.get(p.key) == best]
    return winners[0] if len(winners) == 1 else None


def by_key(key: str) -> Profile | None:
    return next((p for p in PROFILES if p.key == key), None)
