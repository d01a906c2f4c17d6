"""Run the targeting benchmark and print its figures (method and recorded results: bench/targeting/README.md).

    JQS_VAR_DIR=/tmp/targeting .venv/bin/python -m bench.targeting [--enterprises 7000] [--years 5] [--seed 1]
        [--seeds 1] [--budget-share 0.15] [--set persistence=0.9 …] [--rule grading.min_failure_sample=3 …]
        [--strategies uniform,risk_default,oracle] [--json out.json]

No database is used. ``--seeds N`` repeats the run for seeds seed … seed+N-1 and adds the spread.
"""

import argparse
import json
import os
import platform
import statistics
import sys
from dataclasses import asdict, fields, replace

from .simulation import STRATEGIES, Params, Result, domain_fixed_rules, rule_policies, run

CATEGORY_ORDER = ["tightened", "routine", "responsibility", "credit"]
RATIO_ROWS = ("risk_default", "risk_filled", "risk_first", "risk_priority", "risk_scored", "ranked")


def _days(value) -> str:
    return "—" if value is None else f"{value:.0f}"


def table(result: Result) -> str:
    population = result.population
    defaults, chosen = asdict(Params()), asdict(result.params)
    skip = {"enterprises", "years", "seed", "history_years", "budget_share", "rules"}
    overrides = {name: value for name, value in chosen.items() if name not in skip and value != defaults[name]}
    lines = [
        *([f"overrides: {overrides}"] if overrides else []),
        *([f"rules: {', '.join(result.params.rules)}"] if result.params.rules else []),
        f"{population['enterprises']} enterprises in {population['towns_with_enterprises']} towns, "
        f"{population['products_made']} products made, budget {result.params.budget} batches a year "
        f"({result.params.budget_share:.0%}), {result.params.history_years} uniform years then {result.params.years} plan years, "
        f"seed {result.params.seed}",
        f"hidden model: mean probability {population['mean_probability']:.1%}, failing share {population['failing_share']:.1%}; "
        f"P(fail | failed last year) {population['p_fail_after_fail']:.1%} vs P(fail | passed) {population['p_fail_after_pass']:.1%}; "
        f"P(fail | any fail in 3 y) {population['p_fail_after_any_fail_in_3y']:.1%} vs after 3 clean years "
        f"{population['p_fail_after_3_clean_years']:.1%}",
        "",
        f"{'strategy':<46} {'checks':>7} {'found':>6} {'per 100':>8} {'95% CI':>13} {'E[per100]':>9} {'reached':>8} "
        f"{'spells':>6} {'detected':>8} {'days*':>6} {'days†':>6}",
    ]
    for key, figures in result.strategies.items():
        summary = figures.summary()
        low, high = summary["found_per_100_ci95"]
        detection = figures.detection
        share = detection.detected / detection.spells if detection.spells else 0
        lines.append(
            f"{figures.label:<46} {figures.inspections:>7} {figures.found:>6} {figures.found_per_100:>8.2f} "
            f"{f'{low:.1f}–{high:.1f}':>13} {figures.expected_per_100:>9.2f} {figures.reached:>8.1%} "
            f"{detection.spells:>6} {share:>8.1%} {_days(detection.mean_days_detected):>6} {_days(detection.restricted_mean_days):>6}"
        )
        if key.startswith("risk"):
            for arm in ("control", "risk"):
                n, found = figures.arm_per_100(arm)
                if n:
                    lines.append(f"{'   ' + arm + ' arm':<46} {n:>7} {found:>6} {100 * found / n:>8.2f}")
            for category, (n, found) in sorted(figures.by_category().items(), key=lambda item: CATEGORY_ORDER.index(item[0])):
                lines.append(f"{'      risk arm, ' + category:<46} {n:>7} {found:>6} {100 * found / n:>8.2f}")
    lines.append("")
    lines.append(
        "severe-harm products sampled / non-conforming found: "
        + ", ".join(f"{key} {f.summary()['severe'][0]}/{f.summary()['severe'][1]}" for key, f in result.strategies.items())
    )
    lines.append("* mean days to detection of the new failing spells detected; † restricted mean (undetected = 730 days)")
    for key in RATIO_ROWS:
        if key in result.strategies and "uniform" in result.strategies and "oracle" in result.strategies:
            lines.append(
                f"{STRATEGIES[key][0]}: {result.ratio(key, 'uniform'):.2f}× uniform, {result.ratio(key, 'oracle'):.0%} of oracle "
                "(targets: ≥ 1.50×, ≥ 70%)"
            )
    if "risk_default" in result.strategies:
        years = result.strategies["risk_default"].years
        last = years[-1].extra
        lines.append(
            f"risk-based, last plan year: risk share {last['risk_share']:.1%}, categories {last['categories']}, "
            f"colours {last['enterprises_by_colour']}, product grades {last['grades']}, "
            f"strata want {last['wanted']:.0f} of {result.params.budget - years[-1].by_arm.get('control', [0])[0]} risk-arm batches"
        )
    if "risk_filled" in result.strategies:
        scales = [y.extra["ratio_scale"] for y in result.strategies["risk_filled"].years]
        lines.append(f"ratios scaled ×{min(scales):.2f}–{max(scales):.2f} in (b′)")
    if "risk_priority" in result.strategies:
        filled = [sum(y.extra["filled"].values()) for y in result.strategies["risk_priority"].years]
        lines.append(f"leftover budget filled in (b‴): {min(filled)}–{max(filled)} batches a year")
    lines.append(f"{result.seconds:.1f} s")
    return "\n".join(lines)


def spread(results: list[Result]) -> str:
    lines = ["", f"over {len(results)} seeds (mean, min–max):"]
    for key in results[0].strategies:
        values = [r.strategies[key].found_per_100 for r in results]
        reached = [r.strategies[key].reached for r in results]
        lines.append(
            f"  {STRATEGIES[key][0]:<46} per 100 {statistics.fmean(values):6.2f} ({min(values):.2f}–{max(values):.2f})  "
            f"reached {statistics.fmean(reached):.1%} ({min(reached):.1%}–{max(reached):.1%})"
        )
    for key in RATIO_ROWS:
        if not {key, "uniform", "oracle"} <= set(results[0].strategies):
            continue
        to_uniform = [r.ratio(key, "uniform") for r in results]
        to_oracle = [r.ratio(key, "oracle") for r in results]
        # The same ratio on E[per 100] (hidden probabilities instead of outcomes): no outcome noise in either draw.
        expected = [r.strategies[key].expected_per_100 / r.strategies["uniform"].expected_per_100 for r in results]
        lines.append(
            f"  {STRATEGIES[key][0]}: {statistics.fmean(to_uniform):.2f}× uniform ({min(to_uniform):.2f}–{max(to_uniform):.2f}), "
            f"{statistics.fmean(to_oracle):.0%} of oracle ({min(to_oracle):.0%}–{max(to_oracle):.0%}); "
            f"on E[per 100] {statistics.fmean(expected):.2f}× ({min(expected):.2f}–{max(expected):.2f})"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.targeting", description=__doc__.splitlines()[0])
    parser.add_argument("--enterprises", type=int, default=7000)
    parser.add_argument("--years", type=int, default=5, help="plan years measured (after the uniform history)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=1, help="run this many consecutive seeds")
    parser.add_argument("--history-years", type=int, default=3)
    parser.add_argument("--budget-share", type=float, default=0.15)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a population parameter (Params)")
    parser.add_argument(
        "--rule",
        action="append",
        default=[],
        metavar="MODEL.FIELD=VALUE",
        help="a rule setting instead of the default (grading.*, supervision.*, colours.*), e.g. grading.min_failure_sample=3",
    )
    parser.add_argument("--strategies", help=f"comma-separated subset of {','.join(STRATEGIES)} (default: all)")
    parser.add_argument("--json", help="write every figure (and per-year detail) to this file")
    args = parser.parse_args(argv)
    if args.history_years < 1 or args.years < 2:
        parser.error("needs at least one history year and two plan years")
    base = Params(
        enterprises=args.enterprises, years=args.years, seed=args.seed, history_years=args.history_years, budget_share=args.budget_share
    )
    for assignment in args.set:
        name, _equals, value = assignment.partition("=")
        if name not in {f.name for f in fields(Params)} - {"rules"} or not value:
            parser.error(f"--set {assignment}: expected NAME=VALUE with NAME one of Params' fields")
        base = replace(base, **{name: type(getattr(base, name))(value)})
    try:
        rule_policies(args.rule)
    except ValueError as error:
        parser.error(str(error))
    base = replace(base, rules=tuple(args.rule))
    strategies = tuple(STRATEGIES)
    if args.strategies:
        strategies = tuple(key.strip() for key in args.strategies.split(",") if key.strip())
        unknown = [key for key in strategies if key not in STRATEGIES]
        if unknown:
            parser.error(f"--strategies: unknown {unknown}; known: {', '.join(STRATEGIES)}")
    fixed = domain_fixed_rules(args.rule)
    if fixed:
        print(f"note: {', '.join(fixed)} change(s) a default that DOMAIN.md fixes")
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs ({platform.platform()})")
    results = []
    for offset in range(args.seeds):
        result = run(replace(base, seed=args.seed + offset), strategies)
        results.append(result)
        print(table(result), end="\n\n")
        sys.stdout.flush()
    if len(results) > 1:
        print(spread(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump([r.as_dict() for r in results], handle, ensure_ascii=False, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
