"""Words for segments: names a marketer trusts, a one-line description, an action."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

from segmentation.result import FeatureStat

TRAIT_MIN_Z = 0.35  # a feature must be this many standard deviations off to name a segment
TRAIT_KEEP_Z = 0.2  # ... and still this many for a segment to keep last run's name
TYPICAL = "Typical customers"
MAX_TRAITS = 3

# feature -> (phrase when the segment is above average, phrase when below; None = not a trait)
# Recency is days since the last purchase: HIGH recency means lapsed, LOW means recently active.
TRAIT_PHRASES: dict[str, tuple[str | None, str | None]] = {
    "Income": ("High income", "Lower income"),
    "TotalSpend": ("Big spenders", "Light spenders"),
    "Recency": ("Lapsed", "Recently active"),
    "Children": ("Families with kids", "No kids at home"),
    "OnlineShare": ("Online shoppers", "Store shoppers"),
    "NumDealsPurchases": ("Deal seekers", "Full-price buyers"),
    "CampaignsAccepted": ("Campaign responders", None),
    "Age": ("Older", "Younger"),
    "TotalPurchases": ("Frequent buyers", "Occasional buyers"),
    "NumWebVisitsMonth": ("Frequent web visitors", "Rare web visitors"),
    "TenureDays": ("Long-standing", "Newer customers"),
}
PERCENT_FEATURES = frozenset({"OnlineShare"})
# Secondary signals name a segment only when clearly stronger than the primary ones.
TRAIT_WEIGHTS = {"NumWebVisitsMonth": 0.6, "TenureDays": 0.6, "Age": 0.8, "TotalPurchases": 0.8}
_CANONICAL_ORDER = {phrase: i for i, pair in enumerate(TRAIT_PHRASES.values())
                    for phrase in pair if phrase}

# The first rule whose traits are all present gives the action.
ACTION_RULES: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"Lapsed", "Big spenders"}),
     "Win them back personally: they were valuable and have gone quiet."),
    (frozenset({"Lapsed", "High income"}),
     "Win them back with a premium offer before they settle elsewhere."),
    (frozenset({"Lapsed"}), "Run a win-back campaign with a time-limited incentive."),
    (frozenset({"Big spenders", "Campaign responders"}),
     "Put them first in every campaign and give VIP perks: they spend and they respond."),
    (frozenset({"Big spenders"}),
     "Reward loyalty with VIP perks, premium bundles and early access; avoid discounts."),
    (frozenset({"High income"}),
     "Upsell premium ranges: they can afford more than they buy today."),
    (frozenset({"Deal seekers"}), "Lead with discounts and bundles; time offers to paydays."),
    (frozenset({"Families with kids"}),
     "Promote family packs and kid-friendly products; keep messages practical."),
    (frozenset({"Online shoppers"}),
     "Prioritise email and web campaigns; nudge frequent visitors to check out."),
    (frozenset({"Frequent web visitors"}),
     "Retarget on the web: they browse often; make converting easy."),
    (frozenset({"Campaign responders"}), "Include them in every campaign: they respond."),
    (frozenset({"Recently active"}), "Cross-sell while they are engaged."),
    (frozenset({"Light spenders"}),
     "Keep contact costs low; use value offers to grow the basket."),
)


def trait_phrase(feature: str, label: str, z: float) -> str | None:
    """The phrase for a feature that is distinctly high (z > 0) or low in a segment."""
    if feature not in TRAIT_PHRASES and label.startswith("Days since "):
        event = label.removeprefix("Days since ")
        return f"Long since {event}" if z > 0 else f"Recent {event}"
    high, low = TRAIT_PHRASES.get(feature, (f"High {label.lower()}", f"Low {label.lower()}"))
    return high if z > 0 else low


def pick_traits(stats: Sequence[FeatureStat], naming_features: Sequence[str],
                min_z: float = TRAIT_MIN_Z) -> list[str]:
    """Phrases for the most distinctive naming features, strongest first (all candidates)."""
    candidates = sorted((s for s in stats if s.feature in naming_features
                         and abs(s.z) >= min_z),
                        key=lambda s: -abs(s.z) * TRAIT_WEIGHTS.get(s.feature, 1.0))
    phrases: list[str] = []
    for stat in candidates:
        phrase = trait_phrase(stat.feature, stat.label, stat.z)
        if phrase and phrase not in phrases:
            phrases.append(phrase)
    return phrases


def unique_names(trait_lists: Sequence[list[str]]) -> list[str]:
    """One name per segment from its traits; longer or numbered where names would clash."""
    names = [name_from_traits(t, MAX_TRAITS) for t in trait_lists]
    clashes = {n for n in names if names.count(n) > 1}
    for i, traits in enumerate(trait_lists):
        if names[i] in clashes and len(traits) > MAX_TRAITS:
            names[i] = name_from_traits(traits, MAX_TRAITS + 1)
    seen: dict[str, int] = {}
    result = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        result.append(name if names.count(name) == 1 else f"{name} ({_ordinal(seen[name])})")
    return result


def name_still_fits(name: str, stats: Sequence[FeatureStat],
                    naming_features: Sequence[str]) -> bool:
    """Whether every trait in an earlier run's name still describes the segment.

    A looser threshold than for naming, so a name is not dropped over small drift.
    """
    phrases = re.sub(r" \([A-Z0-9]+\)$", "", name).split(" · ")
    if phrases == [TYPICAL]:
        return not pick_traits(stats, naming_features)
    holding = set(pick_traits(stats, naming_features, min_z=TRAIT_KEEP_Z))
    return all(phrase in holding for phrase in phrases)


def name_from_traits(traits: Sequence[str], count: int) -> str:
    """The strongest `count` traits in a fixed reading order: income, spend, recency ..."""
    chosen = sorted(traits[:count], key=lambda t: _CANONICAL_ORDER.get(t, len(_CANONICAL_ORDER)))
    return " · ".join(chosen) or TYPICAL


def _ordinal(n: int) -> str:
    return {1: "A", 2: "B", 3: "C", 4: "D"}.get(n, str(n))


def recommend_action(traits: Sequence[str]) -> str:
    """The marketing action suited to the segment's traits."""
    present = set(traits[:MAX_TRAITS + 1])
    for needed, action in ACTION_RULES:
        if needed <= present:
            return action
    if traits:
        return f"Test a campaign built around what sets them apart: {traits[0].lower()}."
    return "Use as the control group: they look like the average customer."


def describe_segment(size: int, share: float, stats: Sequence[FeatureStat],
                     distinguishing: Sequence[str]) -> str:
    """One line: how big the segment is and its most distinctive numbers against average."""
    by_feature = {s.feature: s for s in stats}
    parts = []
    for feature in distinguishing[:3]:
        stat = by_feature[feature]
        if stat.mean is None or stat.population_mean is None:
            continue
        parts.append(f"{stat.label.lower()} {format_value(feature, stat.mean)} "
                     f"(avg {format_value(feature, stat.population_mean)})")
    head = f"{share:.0%} of customers ({size:,})"
    return head + (": " + "; ".join(parts) + "." if parts else ".")


def format_value(feature: str, value: object) -> str:
    """A number as a marketer reads it: 52,300 · 38% · 2.4; text as is; missing as 'unknown'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unknown"
    if not isinstance(value, int | float):
        return str(value)
    if feature in PERCENT_FEATURES:
        return f"{value:.0%}"
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def feature_label(labels: Mapping[str, str], feature: str) -> str:
    """The human label of a feature, falling back to its column name."""
    return labels.get(feature, feature)
