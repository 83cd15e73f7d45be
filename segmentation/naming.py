"""Words for segments: names a marketer trusts, a one-line description, an action."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import combinations

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
PERCENT_FEATURES = frozenset({"OnlineShare", "one_time_buyer", "p_active", "likely_lost"})
# Share columns of an order history ("category_share:Books") read as percentages too.
PERCENT_PREFIXES = ("category_share:", "channel_share:")
SIGNED_FEATURES = frozenset({"trend"})  # -1..1: the sign says which way
# Secondary signals name a segment only when clearly stronger than the primary ones.
TRAIT_WEIGHTS = {"NumWebVisitsMonth": 0.6, "TenureDays": 0.6, "Age": 0.8, "TotalPurchases": 0.8}
_CANONICAL_ORDER = {phrase: i for i, pair in enumerate(TRAIT_PHRASES.values())
                    for phrase in pair if phrase}
# What a column name carries that a segment name should not: units and ranges in brackets
# ("Annual income (k$)", "Spending score (1-100)", "Revenue [EUR]") and trailing units.
_LABEL_NOTE = re.compile(r"\s*[(\[{][^)\]}]*[)\]}]")
_LABEL_UNIT = re.compile(r"(?:\s+in)?(?:\s*(?:k?[$€£¥]|%)|\s+(?:usd|eur|gbp|chf|jpy|pct|percent))$",
                         re.IGNORECASE)
_LABEL_TAIL = re.compile(r"[\s\-–—:,;/]+$")

_VIP_PERKS = "Reward loyalty with VIP perks, premium bundles and early access; avoid discounts."
# The first rule whose traits are all present gives the action.
ACTION_RULES: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"Lapsed", "Big spenders"}),
     "Win them back personally: they were valuable and have gone quiet."),
    (frozenset({"Lapsed", "High income"}),
     "Win them back with a premium offer before they settle elsewhere."),
    (frozenset({"Lapsed"}), "Run a win-back campaign with a time-limited incentive."),
    (frozenset({"Big spenders", "Campaign responders"}),
     "Put them first in every campaign and preview new ranges to them: they spend and "
     "they respond."),
    (frozenset({"Big spenders", "Frequent buyers"}), _VIP_PERKS),
    (frozenset({"Big spenders"}), _VIP_PERKS),
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
    # Rarely first: these set a segment apart from one that shares its other traits.
    (frozenset({"Frequent buyers"}),
     "Reward their frequency with a points programme; suggest add-ons at checkout."),
    (frozenset({"Occasional buyers"}),
     "Bring them back sooner with reminders and replenishment offers."),
    (frozenset({"Full-price buyers"}), "Sell on quality, newness and service, not discounts."),
    (frozenset({"Store shoppers"}),
     "Make in-store offers the lead; invite them online with a first-order incentive."),
    (frozenset({"Older"}), "Add direct mail to email; stress quality and service."),
    (frozenset({"Younger"}), "Reach them on mobile and social; lead with what is new."),
    (frozenset({"Long-standing"}), "Thank them for their loyalty with an anniversary reward."),
    (frozenset({"Newer customers"}),
     "Send a welcome series that shows the ranges customers like them buy."),
)


def trait_phrase(feature: str, label: str, z: float) -> str | None:
    """The phrase for a feature that is distinctly high (z > 0) or low in a segment."""
    label = name_label(label)
    if feature not in TRAIT_PHRASES and label.startswith("Days since "):
        event = label.removeprefix("Days since ")
        return f"Long since {event}" if z > 0 else f"Recent {event}"
    high, low = TRAIT_PHRASES.get(feature, (f"High {label.lower()}", f"Low {label.lower()}"))
    return high if z > 0 else low


def name_label(label: str) -> str:
    """A label without units or ranges, for names: 'Annual income (k$)' → 'Annual income'."""
    plain = _LABEL_UNIT.sub("", _LABEL_NOTE.sub("", label))
    plain = " ".join(_LABEL_TAIL.sub("", plain).split())
    return plain or label


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
    """One name per segment from its traits.

    Names that would be equal take a fourth trait, or a letter. Segments alike in all but one
    trait lead with what sets each apart ("Frequent buyers · High income · Big spenders",
    "Campaign responders · High income · Big spenders"): no two names differ only at the end.
    """
    names = [" · ".join(w.phrases) or TYPICAL for w in _arrange(trait_lists)]
    seen: dict[str, int] = {}
    result = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        result.append(name if names.count(name) == 1 else f"{name} ({_ordinal(seen[name])})")
    return result


def _share_all_but_last(first: Sequence[str], second: Sequence[str]) -> bool:
    """Whether two names of as many phrases differ only in the last one."""
    return len(first) == len(second) >= 2 and list(first[:-1]) == list(second[:-1]) \
        and first[-1] != second[-1]


@dataclass(frozen=True)
class _Wording:
    """A segment's name phrases in reading order, led by what sets it apart (``apart``)."""

    phrases: tuple[str, ...]
    apart: tuple[str, ...]
    own: dict[int, str]  # an alike segment -> the trait that sets this one apart from it


def _arrange(trait_lists: Sequence[Sequence[str]]) -> list[_Wording]:
    """The wording of each segment's name.

    A name reads its traits in a fixed order (income, spend, recency ...), except that
    segments alike in all but one trait lead with their own trait, strongest first.
    """
    chosen = [tuple(t[:MAX_TRAITS]) for t in trait_lists]
    sets = [frozenset(c) for c in chosen]
    for i, traits in enumerate(trait_lists):
        if sets.count(sets[i]) > 1 and len(traits) > MAX_TRAITS:
            chosen[i] = tuple(traits[:MAX_TRAITS + 1])
    sets = [frozenset(c) for c in chosen]
    own: list[dict[int, str]] = [{} for _ in chosen]
    for i, j in combinations(range(len(chosen)), 2):
        if _alike(sets[i], sets[j]):
            for a, b in ((i, j), (j, i)):
                for trait in sets[a] - sets[b]:  # one at most: alike sets differ by one
                    own[a][b] = trait
    wordings = []
    for i, traits in enumerate(chosen):
        apart = tuple(t for t in traits if t in own[i].values())
        rest = _reading_order([t for t in traits if t not in apart])
        wordings.append(_Wording((*apart, *rest), apart, own[i]))
    return _untangle(wordings)


def _alike(first: frozenset[str], second: frozenset[str]) -> bool:
    """Two trait sets that differ by one trait each, or by one added to the other."""
    longest = max(len(first), len(second))
    return first != second and longest >= 2 and abs(len(first) - len(second)) <= 1 \
        and len(first & second) == longest - 1


def _untangle(wordings: list[_Wording]) -> list[_Wording]:
    # When every trait of two alike names sets it apart from some segment, their traits in
    # front can still line up. The later one then leads with a trait that lines up with no
    # other name: the one that sets it apart from the first, if it can.
    for _ in range(len(wordings) ** 2):
        pair = next(((i, j) for i, j in combinations(range(len(wordings)), 2)
                     if _share_all_but_last(wordings[i].phrases, wordings[j].phrases)), None)
        if pair is None:
            break
        for mover, other in (pair[::-1], pair):
            wording = wordings[mover]
            options = [_led_by(wording, t) for t in (wording.own[other], *wording.phrases)]
            fit = next((o for o in options if not any(
                _share_all_but_last(o.phrases, w.phrases)
                for k, w in enumerate(wordings) if k != mover)), None)
            if fit is not None:
                wordings[mover] = fit
                break
        else:  # every choice lines up with someone: settle this pair, and look again
            i, j = pair
            wordings[j] = _led_by(wordings[j], wordings[j].own[i])
    return wordings


def _led_by(wording: _Wording, trait: str) -> _Wording:
    return replace(wording, phrases=(trait, *(t for t in wording.phrases if t != trait)),
                   apart=(trait, *(t for t in wording.apart if t != trait)))


def _reading_order(traits: Sequence[str]) -> list[str]:
    return sorted(traits, key=lambda t: _CANONICAL_ORDER.get(t, len(_CANONICAL_ORDER)))


def name_still_fits(name: str, stats: Sequence[FeatureStat],
                    naming_features: Sequence[str]) -> bool:
    """Whether every trait in an earlier run's name still describes the segment.

    A looser threshold than for naming, so a name is not dropped over small drift.
    """
    phrases = re.sub(r" \([A-Z0-9]+\)$", "", name).split(" · ")
    if phrases == [TYPICAL]:
        return not pick_traits(stats, naming_features)
    holding = set(pick_traits(stats, naming_features, min_z=TRAIT_KEEP_Z))
    # names given before units left names ("High annual income (k$)") still fit
    return all(phrase in holding or name_label(phrase) in holding for phrase in phrases)


def name_from_traits(traits: Sequence[str], count: int) -> str:
    """The strongest `count` traits in a fixed reading order: income, spend, recency ..."""
    return " · ".join(_reading_order(traits[:count])) or TYPICAL


def _ordinal(n: int) -> str:
    return {1: "A", 2: "B", 3: "C", 4: "D"}.get(n, str(n))


def recommend_action(traits: Sequence[str], apart: Sequence[str] = ()) -> str:
    """The marketing action for the traits; one built on ``apart`` (what sets it apart) first."""
    present = set(traits[:MAX_TRAITS + 1])
    fitting = [action for needed, action in ACTION_RULES if needed <= present]
    own = [action for needed, action in ACTION_RULES
           if needed <= present and needed & set(apart)]
    if own or fitting:
        return (own or fitting)[0]
    if traits:
        return _built_around((apart or traits)[0])
    return "Use as the control group: they look like the average customer."


def recommend_actions(trait_lists: Sequence[list[str]]) -> list[str]:
    """One action per segment; segments alike in all but one trait never get the same one."""
    wordings = _arrange(trait_lists)
    actions = [recommend_action(traits, wording.apart)
               for traits, wording in zip(trait_lists, wordings, strict=True)]
    for _ in range(len(actions) ** 2):
        pair = next(((i, j) for i, j in combinations(range(len(actions)), 2)
                     if (j in wordings[i].own or i in wordings[j].own)
                     and actions[i] == actions[j]), None)
        if pair is None:
            break
        # the later (smaller) segment moves, unless only the other has a trait of its own
        i, j = pair
        mover, other = (j, i) if i in wordings[j].own else (i, j)
        wording = wordings[mover]
        taken = {actions[k] for k in range(len(actions))
                 if k in wording.own or mover in wordings[k].own}
        candidates = [_built_around(t) for t in (wording.own[other], *wording.apart,
                                                 *wording.phrases, " and ".join(wording.phrases))]
        actions[mover] = next((c for c in candidates if c not in taken), candidates[0])
    return actions


def _built_around(trait: str) -> str:
    return f"Test a campaign built around what sets them apart: {trait.lower()}."


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
    if feature in PERCENT_FEATURES or feature.startswith(PERCENT_PREFIXES):
        return f"{value:.0%}"
    if feature in SIGNED_FEATURES:
        return f"{value:+.1f}".replace("-", "\u2212")
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def feature_label(labels: Mapping[str, str], feature: str) -> str:
    """The human label of a feature, falling back to its column name."""
    return labels.get(feature, feature)
