"""Which file column feeds which field: our names plus the headers of common CRM exports.

A header is matched after normalising it: case-folded, punctuation and spaces
dropped ("Close Date", "close_date" and "CloseDate" are one key), a Pipedrive
entity prefix ("Deal - Title", "Organization - Name") and a Zoho suffix
("Reason For Loss__s") removed. Aliases cover HubSpot, Salesforce report labels
and API names, Pipedrive, Zoho and the Maven CRM sample; our own export headers
are the field names themselves, so an export imports back with no flags.
"""

from __future__ import annotations

import re
import unicodedata

from crm_tui.errors import ValidationError

KINDS = ("customers", "contacts", "deals", "tasks", "products", "orders", "pipelines", "goals")

# Fields per kind, in export order. Pseudo-fields (not stored as such) are
# documented in FIELD_HELP.
FIELDS: dict[str, tuple[str, ...]] = {
    "customers": (
        "external_id",
        "name",
        "kind",
        "email",
        "phone",
        "website",
        "industry",
        "tags",
        "owner",
        "source",
        "status",
        "created_at",
        "notes",
        "first_name",
        "last_name",
        "account_type",
    ),
    "contacts": (
        "external_id",
        "customer",
        "name",
        "first_name",
        "last_name",
        "title",
        "email",
        "phone",
        "customer_external_id",
    ),
    "deals": (
        "external_id",
        "title",
        "customer",
        "pipeline",
        "stage",
        "status",
        "amount",
        "currency",
        "probability",
        "owner",
        "product",
        "quantity",
        "unit_price",
        "created_at",
        "expected_close",
        "close_date",
        "closed_at",
        "lost_reason",
        "forecast_category",
        "notes",
        "customer_external_id",
        "is_won",
        "is_closed",
    ),
    "tasks": (
        "external_id",
        "subject",
        "kind",
        "due_at",
        "done_at",
        "outcome",
        "status",
        "priority",
        "customer",
        "deal",
        "owner",
        "notes",
        "created_at",
        "customer_external_id",
    ),
    "products": ("external_id", "name", "code", "unit_price", "currency", "retired_at"),
    "orders": (
        "number",
        "customer",
        "deal",
        "status",
        "owner",
        "created_at",
        "line_number",
        "product",
        "quantity",
        "unit_price",
        "line_total",
        "customer_external_id",
        "currency",
    ),
    # one row per stage task template (a stage with none: one row, task columns blank)
    "pipelines": (
        "pipeline",
        "pipeline_position",
        "pipeline_archived_at",
        "stage",
        "stage_position",
        "outcome",
        "probability",
        "rot_days",
        "stage_archived_at",
        "task_subject",
        "task_kind",
        "task_responsible",
        "task_duration_days",
        "task_position",
        "task_archived_at",
    ),
    "goals": ("external_id", "owner", "metric", "period", "target", "pipeline", "stage", "stage_pipeline"),
}

FIELD_HELP = {
    "close_date": "closed_at for a closed deal, expected_close for an open one (Salesforce, HubSpot, Maven)",
    "status": "deals: open/won/lost overrides the stage's outcome (Pipedrive); tasks: done/completed marks it done",
    "line_total": "orders: what the line costs; unit price = line total ÷ quantity",
    "customer_external_id": "the customer's record id in the file it came from (Salesforce AccountId, "
    "HubSpot Associated Company ID, Pipedrive Organization ID, Zoho Account Id): links to that customer",
    "is_won": "deals: true/false (Salesforce IsWon); true makes the deal won",
    "is_closed": "deals: true/false (Salesforce IsClosed); closed and not won makes the deal lost",
    "account_type": "customers: the CRM's account or company type; Customer… and Prospect set the status",
    "first_name": "customers: a person's first name (a contacts export imported as customers)",
    "code": "products: the rep's own SKU or article number (one product per code)",
    "retired_at": "products: when it was retired (no longer offered for new lines); blank: offered",
    "outcome": "pipelines: open, won or lost (the stage's kind)",
    "rot_days": "pipelines: days in the stage after which a deal is rotting; blank: never",
    "task_subject": "pipelines: a task every deal entering the stage gets (the sales process)",
    "task_responsible": "pipelines: who does the stage task; blank: the deal's owner",
    "task_duration_days": "pipelines: the stage task is due this many days after the deal enters the stage",
}

_PREFIX = re.compile(
    r"^\s*(deal|organization|organisation|person|activity|product|lead|account|opportunity|contact)\s+-\s+",
    re.IGNORECASE,
)
_ZOHO_SUFFIX = re.compile(r"__[sc]$", re.IGNORECASE)
_NON_ALNUM = re.compile(r"[\W_]+", re.UNICODE)


def header_key(header: str) -> str:
    """A header → its matching key ('Deal - Close Date' → 'closedate')."""
    text = unicodedata.normalize("NFKC", str(header)).replace("\ufeff", "").strip()
    text = _ZOHO_SUFFIX.sub("", text)
    text = _PREFIX.sub("", text)
    return _NON_ALNUM.sub("", text.casefold())


def _prefix(header: str) -> str:
    m = _PREFIX.match(unicodedata.normalize("NFKC", str(header)).replace("\ufeff", ""))
    return m.group(1).lower() if m else ""


def _aliases(table: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for field, names in table.items():
        for name in names.split("|"):
            out[header_key(name)] = field
    return out


_CUSTOMER_REF = (
    "customer_external_id|accountid|account id|account.id|associated company id|associated company ids|"
    "company id|organization id|organisation id|org id|customer ref|associated company ids (primary)|"
    "associated company id (primary)|account name.id|account_name.id"
)

_CUSTOMER_NAME = (
    "customer|customer name|customer_name|account|account name|accountname|account.name|company|"
    "company name|companyname|associated company|associated company (primary)|organization|"
    "organisation|organization name|org name|client|client name"
)

ALIASES: dict[str, dict[str, str]] = {
    "customers": _aliases(
        {
            "external_id": "external_id|record id|id|account id|company id|organization id|customer id|"
            "accountid|companyid|customerid",
            "name": "name|" + _CUSTOMER_NAME,
            "kind": "kind|customer kind|customer type",
            "email": "email|e-mail|company email|email address|account email",
            "phone": "phone|phone number|company phone|telephone|main phone|phone 1",
            "website": "website|web|website url|company domain name|domain|web site|url",
            "industry": "industry|sector|vertical",
            "tags": "tags|labels|label|tag",
            "owner": "owner|account owner|company owner|organization owner|owner name|owner.name|"
            "ownerid|owner id|customer owner|sales agent|sales_agent|assigned to|contact owner|lead owner|"
            "record owner|company owner id",
            "source": "source|lead source|account source|accountsource|original source|leadsource",
            "status": "status|lifecycle stage|lifecyclestage|customer status|account status",
            "created_at": "created_at|create date|created date|created time|createddate|created|"
            "add time|organization created|date created",
            "notes": "notes|note|description|comments",
            "first_name": "first name|firstname|first_name|given name",
            "last_name": "last name|lastname|last_name|surname|family name",
            "account_type": "type|account type|accounttype|company type|record type|organization type",
        }
    ),
    "contacts": _aliases(
        {
            "external_id": "external_id|record id|id|contact id|contactid|person id",
            "customer": _CUSTOMER_NAME + "|organization - name|customer_id",
            "name": "name|full name|fullname|contact name|contact|person|person name",
            "first_name": "first name|firstname|first_name|given name|contactfirstname",
            "last_name": "last name|lastname|last_name|surname|family name|contactlastname",
            "title": "title|job title|jobtitle|position|role",
            "email": "email|e-mail|email address|work email|primary email",
            "phone": "phone|phone number|mobile|mobile phone|mobilephone|work phone|telephone",
            "customer_external_id": _CUSTOMER_REF,
        }
    ),
    "deals": _aliases(
        {
            "external_id": "external_id|opportunity_id|opportunity id|record id|deal id|id|opportunityid|"
            "dealid|hs_object_id",
            "title": "title|deal name|dealname|deal|opportunity name|opportunity|name|subject|potential name",
            "customer": _CUSTOMER_NAME,
            "pipeline": "pipeline|sales pipeline|deal pipeline|layout",
            "stage": "stage|deal stage|deal_stage|dealstage|stagename|stage name|sales stage",
            "status": "status|deal status",
            "amount": "amount|value|deal value|close_value|close value|deal amount|opportunity amount|"
            "amount (company currency)|total|revenue",
            "currency": "currency|currency code|currencyisocode|deal currency code|currency iso code|"
            "currency of value|deal currency|value currency",
            "probability": "probability|probability (%)|deal probability|win probability|"
            "forecast probability|hs_deal_stage_probability",
            "owner": "owner|deal owner|opportunity owner|sales agent|sales_agent|owner name|owner.name|"
            "ownerid|owner id|hubspot owner|hubspot_owner_id|assigned to|salesperson|sales rep|potential owner|"
            "record owner",
            "product": "product|product name|products|product_name|productname|item",
            "quantity": "quantity|qty|product quantity",
            "unit_price": "unit_price|unit price|price|list price|sales price|unitprice|listprice",
            "created_at": "created_at|created|create date|created date|createddate|created time|"
            "deal created|engage_date|engage date|createdate|add time|date created",
            "expected_close": "expected_close|expected close date|expected close|expected closing date|"
            "close date (expected)",
            "close_date": "close_date|close date|closedate|close time|closing date",
            "closed_at": "closed_at|closed date|won time|lost time|actual close date|date closed|closed time|"
            "deal closed on|closed on",
            "lost_reason": "lost_reason|lost reason|loss reason|closed lost reason|reason for loss|"
            "reason lost|loss_reason|closed_lost_reason",
            "forecast_category": "forecast_category|forecast category|forecastcategoryname|"
            "forecast category name|forecastcategory",
            "notes": "notes|note|description|next step",
            "customer_external_id": _CUSTOMER_REF,
            "is_won": "is_won|iswon|is won|won",
            "is_closed": "is_closed|isclosed|is closed|closed",
        }
    ),
    "tasks": _aliases(
        {
            "external_id": "external_id|record id|id|task id|activity id|activityid|taskid",
            "subject": "subject|task title|title|task|activity|activity subject|name",
            "kind": "kind|type|task type|activity type|tasktype",
            "due_at": "due_at|due date|due|activity date|activitydate|due time|due date time|deadline",
            "done_at": "done_at|completed date|completed at|done time|marked as done time|completeddatetime|"
            "completion date|closed time",
            "outcome": "outcome|result|call result|call outcome|activity outcome",
            "status": "status|done|task status|state|completed|isclosed|is closed",
            "priority": "priority|task priority",
            "customer": _CUSTOMER_NAME + "|related to|what|account.name",
            "deal": "deal|deal id|deal name|opportunity|opportunity name|associated deal|deal title|deal external_id",
            "owner": "owner|assigned|assigned to|task owner|assigned to user|activity owner|owner name|owner.name|"
            "ownerid|user",
            "notes": "notes|note|description|comments|body|task notes",
            "created_at": "created_at|created|create date|created date|createddate|created time|add time",
            "customer_external_id": _CUSTOMER_REF,
        }
    ),
    "products": _aliases(
        {
            "external_id": "external_id|product id|productid|product code|productcode|sku|id|record id",
            "code": "code",
            "retired_at": "retired_at|retired at|retired on|archived at",
            "name": "name|product|product name|productname|product_name|item|item name",
            "unit_price": "unit_price|unit price|price|list price|sales_price|sales price|unitprice|listprice|msrp",
            "currency": "currency|currency code|currencyisocode",
        }
    ),
    "orders": _aliases(
        {
            "number": "number|order number|ordernumber|order id|order no|order|order_number|so number|"
            "sales order number|invoice number|orderid",
            "customer": _CUSTOMER_NAME,
            "deal": "deal|deal id|deal name|opportunity|opportunity name|deal external_id",
            "status": "status|order status",
            "owner": "owner|order owner|sales rep|salesperson|sales agent|owner name",
            "created_at": "created_at|order date|orderdate|created|created date|date|created time",
            "line_number": "line_number|line number|orderlinenumber|line no|line",
            "product": "product|product name|productcode|product code|item|sku|productname",
            "quantity": "quantity|qty|quantityordered|quantity ordered|units",
            "unit_price": "unit_price|unit price|priceeach|price each|price|list price|unitprice",
            "line_total": "line_total|line total|sales|amount|total|line amount|subtotal|total price|totalprice",
            "customer_external_id": _CUSTOMER_REF,
            "currency": "currency|currency code|currencyisocode|order currency",
        }
    ),
    "pipelines": _aliases(
        {
            "pipeline": "pipeline|pipeline name|sales pipeline|deal pipeline",
            "pipeline_position": "pipeline_position|pipeline order",
            "pipeline_archived_at": "pipeline_archived_at|pipeline archived at",
            "stage": "stage|stage name|deal stage|stagename",
            "stage_position": "stage_position|stage order|order nr|display order",
            "outcome": "outcome|stage outcome|stage kind",
            "probability": "probability|probability (%)|win probability|deal probability|stage probability",
            "rot_days": "rot_days|rot days|rotting days|rotting in days|rotten after days",
            "stage_archived_at": "stage_archived_at|stage archived at",
            "task_subject": "task_subject|task subject|task|stage task",
            "task_kind": "task_kind|task kind|task type",
            "task_responsible": "task_responsible|task responsible|responsible",
            "task_duration_days": "task_duration_days|task duration days|duration days|duration",
            "task_position": "task_position|task order",
            "task_archived_at": "task_archived_at|task archived at",
        }
    ),
    "goals": _aliases(
        {  # our own export's names only: a vendor file's "Type" or "Value" is not a goal
            "external_id": "external_id|goal id",
            "owner": "owner",
            "metric": "metric|goal metric",
            "period": "period|goal period",
            "target": "target|goal target|quota",
            "pipeline": "pipeline",
            "stage": "stage",
            "stage_pipeline": "stage_pipeline|stage pipeline",
        }
    ),
}

# Pipedrive prefixes another entity's columns: in a deals export "Organization - Name"
# is the customer and "Person - Name" a contact.
_PREFIX_FIELDS: dict[str, dict[tuple[str, str], str]] = {
    "deals": {
        ("organization", "name"): "customer",
        ("organisation", "name"): "customer",
        ("organization", "id"): "customer_external_id",
        ("organisation", "id"): "customer_external_id",
        ("product", "name"): "product",
    },
    "orders": {
        ("organization", "name"): "customer",
        ("organization", "id"): "customer_external_id",
        ("product", "name"): "product",
    },
    "tasks": {
        ("organization", "name"): "customer",
        ("organization", "id"): "customer_external_id",
        ("deal", "title"): "deal",
        ("deal", "id"): "deal",
    },
    "contacts": {("organization", "name"): "customer", ("organization", "id"): "customer_external_id"},
}


def parse_map_options(items: list[str] | None) -> dict[str, str]:
    """['Col=field', ...] → {'Col': 'field'}; rejects a malformed item."""
    out: dict[str, str] = {}
    for item in items or []:
        column, sep, field = item.rpartition("=")
        if not sep or not column.strip() or not field.strip():
            raise ValidationError(f"--map needs COLUMN=FIELD, got {item!r}; e.g. --map 'Deal Name=title'")
        out[column.strip()] = field.strip()
    return out


def resolve_columns(kind: str, headers: list[str], overrides: dict[str, str] | None = None):
    """Decide the field of every column.

    Returns ``(columns, unmapped, alternates)``: ``columns`` maps field → column
    header (the first column that names a field wins; an override always wins),
    ``unmapped`` lists headers that feed no field, in file order, and
    ``alternates`` maps a field to later columns naming it too, read where the
    first is blank (Pipedrive's "Won time" / "Lost time" both give closed_at).
    """
    if kind not in FIELDS:
        raise ValidationError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    fields = FIELDS[kind]
    overrides = dict(overrides or {})
    by_exact = {h: h for h in headers}
    by_key: dict[str, str] = {}
    for h in headers:
        by_key.setdefault(header_key(h), h)
    columns: dict[str, str] = {}
    forced: set[str] = set()
    for column, field in overrides.items():
        if field not in fields and field not in ("ignore", "-"):
            raise ValidationError(
                f"--map {column}={field}: {kind} have no field {field!r}; use one of {', '.join(fields)} (or 'ignore')"
            )
        header = by_exact.get(column) or by_key.get(header_key(column))
        if header is None:
            raise ValidationError(
                f"--map {column}={field}: the file has no column {column!r}; its columns are "
                + ", ".join(repr(h) for h in headers[:30])
            )
        forced.add(header)
        if field in fields:
            columns[field] = header
    aliases = ALIASES[kind]
    forced_fields = set(columns)
    alternates: dict[str, list[str]] = {}
    prefix_fields = _PREFIX_FIELDS.get(kind, {})
    for h in headers:
        if h in forced:
            continue
        key = header_key(h)
        field = prefix_fields.get((_prefix(h), key))
        if field is None:
            pre = _prefix(h)
            # "Person - Name" in a deals export is a contact, not the deal's title.
            if pre and pre not in _OWN_PREFIX[kind]:
                continue
            field = aliases.get(key)
        if field and field not in columns:
            columns[field] = h
        elif field and field not in forced_fields:
            alternates.setdefault(field, []).append(h)
    used = set(columns.values()) | forced | {h for hs in alternates.values() for h in hs}
    unmapped = [h for h in headers if h not in used and str(h).strip()]
    return columns, unmapped, alternates


_OWN_PREFIX = {
    "customers": {"organization", "organisation", "account"},
    "contacts": {"person", "contact"},
    "deals": {"deal", "opportunity"},
    "tasks": {"activity"},
    "products": {"product"},
    "orders": set(),
    "pipelines": {"deal"},
    "goals": {"goal"},
}
