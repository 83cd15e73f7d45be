"""Who is still active, and what each customer will buy next: the BG/NBD model of repeat
purchases and the Gamma-Gamma model of spend per purchase (Fader, Hardie & Lee 2005), fitted
to an order history's customers by `pymc-marketing` (MAP, flat priors: the estimate is the
maximum-likelihood one the papers publish).

Pure computation on frames, no I/O. pymc-marketing, PyMC and PyTensor take seconds to
import, so they are imported inside `fit_forecast` only: answers never load them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segmentation.errors import MissingPackage
from segmentation.order_fields import (
    EXPECTED_PURCHASES,
    EXPECTED_VALUE,
    LIKELY_LOST,
    LIKELY_LOST_BELOW,
    P_ACTIVE,
)
from segmentation.result import ForecastReport

if TYPE_CHECKING:  # answers read describe_forecast: they need not load the engine's modules
    from segmentation.forecast_holdout import Holdout
    from segmentation.prepare import PreparedData

TIME_UNIT = "weeks"
DAYS_PER_UNIT = 7
HORIZON_DAYS = 90
# Too few repeat buyers and the models cannot tell a lapsed customer from a slow one: the
# run is published without predictions rather than with numbers no data supports.
MIN_REPEAT_BUYERS = 20
MIN_REPEAT_SHARE = 0.01
# An estimate beyond [1/EXTREME, EXTREME] ran to the edge of its range: the history cannot
# pin that part of the model down (e.g. a and b growing together without bound).
EXTREME = 1e5
# Converged: the log-likelihood's slope against each log-parameter is at most this much per
# customer (at CDNOW's optimum it is 2e-6 per customer).
MAX_SLOPE_PER_CUSTOMER = 1e-3

LABELS = {
    P_ACTIVE: "P(active)",
    EXPECTED_PURCHASES: "Expected purchases next 90 days",
    EXPECTED_VALUE: "Expected value next 90 days",
    LIKELY_LOST: f"Likely lost (P(active) < {LIKELY_LOST_BELOW:g})",
}
# The features of an order history (segmentation.order_features) the models read.
INPUTS = ("frequency", "recency_days", "tenure_days", "repeat_purchases", "repeat_value")

_PURCHASE_PARAMETERS = ("r", "alpha", "a", "b")
_SPEND_PARAMETERS = ("p", "q", "v")


@dataclass(frozen=True)
class Forecast:
    """A fitted forecast: its report and one row of predictions per customer (None when the
    report says why there are none). ``predictions`` holds `P_ACTIVE`, `EXPECTED_PURCHASES`
    and, when the history has amounts and the spend model fitted, `EXPECTED_VALUE`."""

    report: ForecastReport
    predictions: pd.DataFrame | None
    purchase_model: Any = None  # the fitted pymc-marketing BetaGeoModel, when it fitted


def purchase_histories(features: pd.DataFrame) -> pd.DataFrame:
    """The models' inputs per customer, in weeks, rows aligned with ``features``.

    frequency: repeat purchase occasions (all but the first); recency: weeks from the first
    purchase to the last; T: weeks from the first purchase to the as-of date;
    monetary_value: mean value of the purchases after the first day (NaN without any, or
    without amounts); spend_purchases: how many those are.
    """
    tenure = features["tenure_days"].to_numpy(dtype="float64")
    recency = features["recency_days"].to_numpy(dtype="float64")
    repeats = features["repeat_purchases"].to_numpy(dtype="int64")
    value = (features["repeat_value"].to_numpy(dtype="float64") if "repeat_value" in features
             else np.full(len(features), np.nan))
    mean = np.divide(value, repeats, out=np.full(len(features), np.nan), where=repeats > 0)
    return pd.DataFrame({
        "customer_id": np.arange(len(features)),
        "frequency": features["frequency"].to_numpy(dtype="int64") - 1,
        "recency": (tenure - recency) / DAYS_PER_UNIT,
        "T": tenure / DAYS_PER_UNIT,
        "monetary_value": mean,
        "spend_purchases": repeats,
    })


def fit_forecast(histories: pd.DataFrame, *, as_of: str = "the as-of date",
                 horizon_days: int = HORIZON_DAYS) -> Forecast:
    """Fit BG/NBD (and Gamma-Gamma where there are amounts) to `purchase_histories`' frame;
    predict P(active), purchases and value over the next ``horizon_days``.

    A history the models cannot be fitted to (too few repeat buyers, no convergence,
    estimates at the edge of their range) gives a report saying so and no predictions.
    """
    customers = len(histories)
    repeat_buyers = int((histories["frequency"] > 0).sum())
    base = ForecastReport(fitted=False, reason="", customers=customers,
                          repeat_buyers=repeat_buyers, horizon_days=horizon_days,
                          actual_repeats=int(histories["frequency"].sum()))
    too_few = _too_few(repeat_buyers, customers, "bought again after their first purchase "
                       f"by {as_of}", "who is still active")
    if too_few:
        return Forecast(base.not_fitted(too_few), None)
    models = _models()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        purchases = _fit(models.BetaGeoModel, histories[["customer_id", "frequency", "recency",
                                                         "T"]], _PURCHASE_PARAMETERS, models)
        problem = _problem(purchases, "purchase model", customers)
        if problem:
            return Forecast(base.not_fitted(problem), None)
        model = purchases.model
        future = horizon_days / DAYS_PER_UNIT
        data = histories[["customer_id", "frequency", "recency", "T"]]
        predictions = pd.DataFrame({
            P_ACTIVE: _values(model.expected_probability_alive(data=data)),
            EXPECTED_PURCHASES: _values(model.expected_purchases(data=data, future_t=future)),
        })
        expected_repeats = _expected_repeats(model, histories["T"].to_numpy())
        spend, spend_reason, correlation = _spend(histories, models, as_of)
        if spend is not None:
            per_purchase = _values(spend.model.expected_customer_spend(data=histories.assign(
                frequency=histories["spend_purchases"],
                monetary_value=histories["monetary_value"].fillna(0.0))))
            predictions[EXPECTED_VALUE] = predictions[EXPECTED_PURCHASES] * per_purchase
    if not np.isfinite(predictions.to_numpy()).all():
        return Forecast(base.not_fitted("the fitted models gave undefined predictions for some "
                                        "customers"), None)
    report = ForecastReport(
        fitted=True, reason="", customers=customers, repeat_buyers=repeat_buyers,
        horizon_days=horizon_days, parameters=purchases.parameters,
        log_likelihood=purchases.log_likelihood, largest_slope=purchases.largest_slope,
        expected_repeats=expected_repeats, actual_repeats=base.actual_repeats,
        spend_parameters={} if spend is None else spend.parameters,
        spend_reason=spend_reason, spend_correlation=correlation)
    return Forecast(report, predictions, purchases.model)


def expected_repeats_ahead(forecast: Forecast, histories: pd.DataFrame,
                           weeks: float) -> np.ndarray:
    """Each customer's expected repeat purchases in the ``weeks`` after the as-of date, given
    their history (rows as `purchase_histories` gave them)."""
    model = _require_model(forecast)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _values(model.expected_purchases(
            data=histories[["customer_id", "frequency", "recency", "T"]], future_t=weeks))


def expected_cumulative_repeats(forecast: Forecast, first_weeks: np.ndarray,
                                weeks: np.ndarray) -> np.ndarray:
    """The repeat purchases the model expects a cohort to have made by the end of each of
    ``weeks``, its customers having first bought at ``first_weeks`` (both counted from one
    start, week w ending after day 7w - 1): the tracking curve of the BG/NBD paper (its
    figure 4). Evaluated once per distinct first week, weighted by its customers."""
    model = _require_model(forecast)
    starts, counts = np.unique(first_weeks, return_counts=True)
    ends = weeks - 1 / DAYS_PER_UNIT
    # One row per (week, first week): how long those customers have been buying by then.
    elapsed = np.clip(ends[:, None] - starts[None, :], 0.0, None).ravel()
    data = pd.DataFrame({"customer_id": np.arange(elapsed.size)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = _values(model.expected_purchases_new_customer(data=data, t=elapsed))
    return expected.reshape(len(weeks), len(starts)) @ counts


def holdout_check(forecast: Forecast, histories: pd.DataFrame, ids: pd.Series,
                  holdout: Holdout) -> dict[str, Any]:
    """The forecast against what the customers bought after the as-of date: predicted and
    actual repeat purchases in all and their correlation per customer, and the tracking
    curves week by week (``ids`` are the customers of ``histories``' rows)."""
    positions = holdout.ids.get_indexer(pd.Index(ids.astype(str)))
    actual = np.where(positions >= 0, holdout.purchases[np.maximum(positions, 0)], 0)
    predicted = expected_repeats_ahead(forecast, histories, holdout.holdout_weeks)
    with np.errstate(all="ignore"):
        correlation = float(np.corrcoef(predicted, actual)[0, 1]) if len(actual) > 1 \
            else math.nan
    expected = expected_cumulative_repeats(forecast, holdout.first_weeks, holdout.weeks)
    return {"weeks_after": round(holdout.holdout_weeks, 4), "predicted": float(predicted.sum()),
            "actual": int(actual.sum()),
            "correlation": correlation if math.isfinite(correlation) else None,
            "calibration_weeks": round(holdout.calibration_weeks, 4),
            "tracking": {"weeks": holdout.weeks.tolist(),
                         "actual": holdout.cumulative.tolist(),
                         "expected": [round(float(v), 3) for v in expected]}}


def _expected_repeats(model: Any, ages: np.ndarray) -> float:
    """The repeat purchases the fitted model expects of customers who have been buying for
    ``ages`` (weeks): evaluated once per distinct age (a few hundred days, not a million
    customers) and weighted by how many customers have it."""
    distinct, counts = np.unique(ages, return_counts=True)
    per_customer = _values(model.expected_purchases_new_customer(
        data=pd.DataFrame({"customer_id": np.arange(distinct.size)}), t=distinct))
    return float(per_customer @ counts)


def _require_model(forecast: Forecast) -> Any:
    if forecast.purchase_model is None:
        raise ValueError(f"no fitted purchase model: {forecast.report.reason}")
    return forecast.purchase_model


def add_forecast(prepared: PreparedData) -> tuple[PreparedData, ForecastReport]:
    """An order history's prepared customers with their predictions as attributes (shown per
    customer and profiled per segment, with the share likely lost), and the report; when the
    models cannot be fitted, the customers as they were and the report saying why."""
    as_of = prepared.as_of.date().isoformat() if prepared.as_of is not None else "the as-of date"
    histories = purchase_histories(prepared.frame)
    forecast = fit_forecast(histories, as_of=as_of)
    if forecast.predictions is None:
        return prepared, forecast.report
    report = forecast.report
    if prepared.holdout is not None:
        report = replace(report, holdout=holdout_check(
            forecast, histories, prepared.frame["customer_id"], prepared.holdout))
    predictions = with_likely_lost(forecast.predictions)
    columns = [str(c) for c in predictions.columns]
    shown = tuple(c for c in (P_ACTIVE, EXPECTED_PURCHASES, EXPECTED_VALUE) if c in columns)
    frame = prepared.frame.assign(**{c: predictions[c].to_numpy() for c in columns})
    return replace(
        prepared, frame=frame,
        profile_features=(*prepared.profile_features, *shown, LIKELY_LOST),
        display_columns=(*prepared.display_columns, *shown),
        feature_labels=prepared.feature_labels | {c: LABELS[c] for c in columns},
    ), report


def with_likely_lost(predictions: pd.DataFrame) -> pd.DataFrame:
    """``predictions`` and `LIKELY_LOST`: 1.0 where P(active) is under `LIKELY_LOST_BELOW`
    (a float, so a segment's mean is its share likely lost)."""
    return predictions.assign(**{
        LIKELY_LOST: (predictions[P_ACTIVE] < LIKELY_LOST_BELOW).astype("float64")})


def describe_forecast(report: ForecastReport) -> list[str]:
    """The refresh summary's lines on the forecast: parameters, time unit and fit checks,
    or why this run has no predictions."""
    if not report.fitted:
        return [f"no predictions: {report.reason}"]
    p = report.parameters
    lines = [f"purchase model (BG/NBD, time in {report.time_unit}): "
             f"r = {p['r']:.3f}, α = {p['alpha']:.3f}, a = {p['a']:.3f}, b = {p['b']:.3f}",
             f"fit: log-likelihood {report.log_likelihood:,.1f}, converged (largest slope "
             f"{report.largest_slope:.2g}); {report.repeat_buyers:,} of {report.customers:,} "
             f"customers bought again; over their own histories the model expects "
             f"{report.expected_repeats:,.0f} repeat purchases, they made "
             f"{report.actual_repeats:,}"]
    if report.spend_parameters:
        s = report.spend_parameters
        lines.append(f"spend model (Gamma-Gamma): p = {s['p']:.3f}, q = {s['q']:.3f}, "
                     f"v = {s['v']:.3f}; correlation of purchases and spend per purchase "
                     f"among repeat buyers {report.spend_correlation:.2f} (the model assumes "
                     "none)")
    else:
        lines.append(f"no value predictions: {report.spend_reason}")
    if report.holdout:
        h = report.holdout
        correlation = h["correlation"]
        lines.append(f"holdout, the {h['weeks_after']:.0f} weeks after the as-of date: the "
                     f"model predicted {h['predicted']:,.0f} repeat purchases, customers made "
                     f"{h['actual']:,}; per customer correlation "
                     + ("undefined" if correlation is None else f"{correlation:.2f}"))
    lines.append(f"predicted per customer: P(active), purchases"
                 f"{' and value' if report.spend_parameters else ''} in the next "
                 f"{report.horizon_days} days")
    return lines


# --- fitting ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Fitted:
    model: Any  # a fitted pymc-marketing CLV model
    parameters: dict[str, float]
    log_likelihood: float
    largest_slope: float


def _models() -> Any:
    """pymc-marketing's CLV models, imported here so that only a forecast pays for it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # arviz and pymc announce refactors on import
        try:
            from pymc_extras.prior import Prior
            from pymc_marketing import clv
        except ModuleNotFoundError as missing:
            raise MissingPackage(
                f"predicting an order history needs pymc-marketing, a dependency of segbot "
                f"({missing.name} is not installed): pip install -e . installs it") from None
    return _Namespace(BetaGeoModel=clv.BetaGeoModel, GammaGammaModel=clv.GammaGammaModel,
                      Prior=Prior)


@dataclass(frozen=True)
class _Namespace:
    BetaGeoModel: Callable[..., Any]
    GammaGammaModel: Callable[..., Any]
    Prior: Callable[..., Any]


def _fit(model_type: Callable[..., Any], data: pd.DataFrame, names: tuple[str, ...],
         models: _Namespace) -> _Fitted:
    """Fit by MAP with flat priors on every parameter, so the MAP is the maximum likelihood;
    the log-likelihood and its slopes are evaluated at the estimate, without priors."""
    model = model_type(data=data, model_config={name: models.Prior("HalfFlat")
                                                for name in names})
    model.fit(method="map", progressbar=False)
    posterior = model.idata.posterior
    parameters = {name: float(posterior[name].to_numpy().ravel()[0]) for name in names}
    log_likelihood, slope = _likelihood_at(model.model.compile_logp(jacobian=False),
                                           parameters)
    return _Fitted(model, parameters, log_likelihood, slope)


def _likelihood_at(logp: Callable[[dict[str, Any]], Any],
                   parameters: dict[str, float]) -> tuple[float, float]:
    """The log-likelihood at ``parameters`` and its largest slope against a log-parameter,
    by central differences (compiling the gradient too would cost a second per model)."""
    with np.errstate(all="ignore"):
        logs = {f"{name}_log__": math.log(v) if v > 0 else -math.inf
                for name, v in parameters.items()}
        centre = float(logp(logs))
        slopes = []
        for name in logs:
            up = float(logp(logs | {name: logs[name] + _STEP}))
            down = float(logp(logs | {name: logs[name] - _STEP}))
            slopes.append(abs(up - down) / (2 * _STEP))
    return centre, max(slopes, default=math.nan)


_STEP = 1e-5  # in log units: a relative step in each parameter


def _problem(fitted: _Fitted, what: str, customers: int) -> str:
    """Why a fit cannot be used, in words; empty when it can."""
    values = fitted.parameters
    shown = ", ".join(f"{name} = {value:.3g}" for name, value in values.items())
    if not all(math.isfinite(v) and v > 0 for v in values.values()) or \
            not math.isfinite(fitted.log_likelihood):
        return f"the {what} did not reach a defined estimate ({shown})"
    if not math.isfinite(fitted.largest_slope) or \
            fitted.largest_slope > MAX_SLOPE_PER_CUSTOMER * max(customers, 1):
        return (f"the {what} did not converge (its likelihood still changes by "
                f"{fitted.largest_slope:.3g} per unit of a log-parameter at {shown})")
    extreme = [name for name, v in values.items() if not 1 / EXTREME <= v <= EXTREME]
    if extreme:
        return (f"the {what}'s estimates ran to the edge of their range ({shown}): the "
                f"history cannot pin down {', '.join(extreme)}")
    return ""


def _spend(histories: pd.DataFrame, models: _Namespace,
           as_of: str) -> tuple[_Fitted | None, str, float | None]:
    """The Gamma-Gamma fit on repeat buyers with a positive mean spend, why there is none,
    and the correlation of their purchases with their spend per purchase."""
    if histories["monetary_value"].isna().all():
        return None, "the order history has no amounts", None
    buyers = histories[(histories["spend_purchases"] > 0) & (histories["monetary_value"] > 0)]
    too_few = _too_few(len(buyers), len(histories), "spent money on a later day than their "
                       f"first purchase by {as_of}", "what a purchase is worth")
    if too_few:
        return None, too_few, None
    data = buyers.assign(frequency=buyers["spend_purchases"])[
        ["customer_id", "monetary_value", "frequency"]]
    fitted = _fit(models.GammaGammaModel, data, _SPEND_PARAMETERS, models)
    correlation = float(np.corrcoef(data["frequency"], data["monetary_value"])[0, 1])
    problem = _problem(fitted, "spend model", len(data))
    if not problem and fitted.parameters["q"] <= 1:
        problem = (f"the spend model's q = {fitted.parameters['q']:.3g} is not above 1, so "
                   "spend per purchase has no finite expected value")
    return (None, problem, correlation) if problem else (fitted, "", correlation)


def _too_few(repeaters: int, customers: int, did: str, to_tell: str) -> str:
    share = repeaters / customers if customers else 0.0
    if repeaters >= MIN_REPEAT_BUYERS and share >= MIN_REPEAT_SHARE:
        return ""
    return (f"only {repeaters:,} of {customers:,} customers ({share:.1%}) {did}: too few to "
            f"tell {to_tell} (at least {MIN_REPEAT_BUYERS} and {MIN_REPEAT_SHARE:.0%} needed)")


def _values(array: Any) -> np.ndarray:
    """A pymc-marketing prediction (chain x draw x customer, one MAP draw) per customer, in
    the order of the customer ids given (0, 1, ...)."""
    data = array.squeeze(("chain", "draw"), drop=True)
    order = np.argsort(data["customer_id"].to_numpy(), kind="stable")
    return np.asarray(data.to_numpy(), dtype="float64")[order]
