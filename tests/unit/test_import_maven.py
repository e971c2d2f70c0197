"""The Maven CRM pipeline (public domain) imports with no --map and gives the figures pandas computes
from the CSV itself; the Excel-saved M/D/YYYY variant gives the same; sample-sales orders import."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from crm_tui.io import import_file
from crm_tui.metrics import Filters, report
from crm_tui.models import Customer, Deal, Order, OrderLine

MAVEN = Path(__file__).resolve().parents[1] / "data" / "maven-crm"
SAMPLE_SALES = (
    Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "sample-sales-data" / "sales_data_sample.csv"
)


def expected_from_csv():
    df = pd.read_csv(MAVEN / "sales_pipeline.csv", dtype=str, keep_default_na=False)
    won = df[df.deal_stage == "Won"]
    lost = df[df.deal_stage == "Lost"]
    cycle = (pd.to_datetime(won.close_date) - pd.to_datetime(won.engage_date)).dt.days
    agent = "Darcel Schlecht"
    a_won = won[won.sales_agent == agent]
    a_lost = lost[lost.sales_agent == agent]
    return {
        "won_count": len(won),
        "lost_count": len(lost),
        "won_value": int(won.close_value.astype(int).sum()),
        "win_rate": len(won) / (len(won) + len(lost)),
        "avg_cycle_days": cycle.mean(),
        "open_count": int(df.deal_stage.isin(["Engaging", "Prospecting"]).sum()),
        "agent": agent,
        "agent_won": len(a_won),
        "agent_lost": len(a_lost),
        "agent_won_value": int(a_won.close_value.astype(int).sum()),
        "agent_rate": len(a_won) / (len(a_won) + len(a_lost)),
        "no_account": int((df.account == "").sum()),
    }


@pytest.mark.parametrize("pipeline_file", ["sales_pipeline.csv", "variant-mdy-dates/sales_pipeline.csv"])
def test_maven_pipeline_figures(db, pipeline_file):
    exp = expected_from_csv()
    assert import_file(db, "products", MAVEN / "products.csv").created == 7
    r = import_file(db, "customers", MAVEN / "accounts.csv")
    assert (r.created, r.rejected) == (85, 0) and "revenue" in r.unmapped_columns
    r = import_file(db, "deals", MAVEN / pipeline_file)
    assert (r.created, r.updated, r.rejected) == (8800, 0, 0)
    assert r.columns == {
        "external_id": "opportunity_id",
        "owner": "sales_agent",
        "product": "product",
        "customer": "account",
        "stage": "deal_stage",
        "created_at": "engage_date",
        "close_date": "close_date",
        "amount": "close_value",
    }
    assert r.also_created == {"stages": 2}  # Engaging, Prospecting; GTXPro matched GTX Pro, accounts matched
    rep = report(db, Filters())
    d = rep["deals"]
    assert (d["won_count"], d["lost_count"], d["open_count"]) == (
        exp["won_count"],
        exp["lost_count"],
        exp["open_count"],
    )
    assert d["won_value"] == exp["won_value"]
    assert d["win_rate"] == pytest.approx(exp["win_rate"], abs=5e-5)
    assert d["avg_cycle_days"] == pytest.approx(exp["avg_cycle_days"], abs=0.005)
    owner = next(o for o in rep["owners"] if o["owner"] == exp["agent"])
    assert (owner["won_count"], owner["lost_count"], owner["won_value"]) == (
        exp["agent_won"],
        exp["agent_lost"],
        exp["agent_won_value"],
    )
    assert owner["win_rate"] == pytest.approx(exp["agent_rate"], abs=5e-5)
    with db.read() as s:
        c = s.connection()
        no_customer = c.execute(select(func.count()).where(Deal.customer_id.is_(None))).scalar()
        customers = c.execute(select(func.count()).select_from(Customer)).scalar()
    assert no_customer == exp["no_account"] and customers == 85
    # a second import of the same file updates, never duplicates
    r = import_file(db, "deals", MAVEN / pipeline_file)
    assert (r.created, r.updated) == (0, 8800)
    assert report(db, Filters())["deals"]["won_value"] == exp["won_value"]


@pytest.mark.skipif(not SAMPLE_SALES.exists(), reason="../shared/datasets/sample-sales-data is not present")
def test_sample_sales_orders_import_with_no_error(db):
    r = import_file(db, "orders", SAMPLE_SALES)
    assert r.rejected == 0 and r.created == 307 and r.encoding == "cp1252"
    assert "TERRITORY" in r.unmapped_columns
    with db.read() as s:
        c = s.connection()
        lines = c.execute(select(func.count()).select_from(OrderLine)).scalar()
        orders = c.execute(select(func.count()).select_from(Order)).scalar()
        customers = c.execute(select(func.count()).select_from(Customer)).scalar()
    assert (orders, lines, customers) == (307, 2823, 92)
