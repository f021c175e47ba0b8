"""docs/cost.md states the worst-case daily spend the template's defaults allow: recomputed here
from the template and the settings, so the page cannot drift from them."""

from __future__ import annotations

import re

from mojang_chat.core.settings import Settings
from mojang_chat.local.template import load_template
from tests.helpers import ROOT, TEMPLATE

COST = ROOT / "docs" / "cost.md"


def test_the_worst_case_on_the_cost_page_is_the_defaults() -> None:
    # Given the template's defaults, the settings' per-question budget, and the page's price
    parameters = load_template(TEMPLATE)["Parameters"]
    defaults = Settings()
    text = COST.read_text(encoding="utf-8")
    stated = re.search(r"\*\*\$([0-9.]+) per million tokens\*\*", text)
    assert stated is not None
    price = float(stated.group(1))

    # When the worst case is computed as the page says
    per_call = defaults.max_total_tokens + defaults.max_completion_tokens
    in_flight = (
        parameters["ChatReservedConcurrency"]["Default"]
        + parameters["RunStepsReservedConcurrency"]["Default"]
    )
    budget = parameters["TokensPerDay"]["Default"]
    worst = budget + in_flight * per_call

    # Then the page states each figure
    for figure in (
        f"{budget:,}",
        f"= {in_flight}",
        f"= {per_call:,})",
        f"{in_flight * per_call:,}",
        f"**{worst:,}**",
        f"**${worst * price / 1e6:.2f} a day**",
        f"about ${worst * price / 1e6 * 30:.0f} a month",
    ):
        assert figure in text, figure
    # And the budgets' defaults in its table are the template's
    for name in ("ClientRequestsPerMinute", "ClientTokensPerDay", "TokensPerDay"):
        default = parameters[name]["Default"]
        assert f"(`{name}`) | {default:,} |" in text, name
