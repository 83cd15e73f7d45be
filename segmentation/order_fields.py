"""The names of an order history's per-customer fields and predictions that answers show.

Kept apart from the engine (segmentation.order_profile, segmentation.forecast), which loads
numpy and pandas: an answer names these fields without loading it.
"""

from __future__ import annotations

# Kept per customer for /customer and shown first there: the purchase history's lead.
LEAD_ATTRIBUTES = ("last_purchase", "frequency", "monetary_total", "monetary_avg")
OVERVIEW_FEATURES = ("recency_days", "frequency", "monetary_total")  # R, F and M per segment

# The forecast's predictions per customer (segmentation.forecast).
P_ACTIVE = "p_active"
EXPECTED_PURCHASES = "expected_purchases_90d"
EXPECTED_VALUE = "expected_value_90d"
LIKELY_LOST = "likely_lost"
LIKELY_LOST_BELOW = 0.3  # P(active) under this: likely lost
