#!/usr/bin/env python3
"""Tables and chart for BENCHMARKS.md from a `cargo bench --bench compare` run.

The benchmarks are their own cargo workspace, benches/ (`cargo bench --manifest-path
benches/Cargo.toml --bench compare` from the repository root), with its own target directory.

Reads criterion's `<target>/criterion/**/new/estimates.json` and prints, as Markdown:

- every case's median time per request (with criterion's 95% confidence interval) and its
  overhead over `baseline/no_middleware` (the same request through no middleware);
- the four targets BENCHMARKS.md sets:
  (a) ours/no_cookie within 10% of the baseline (both without a Cookie header),
  ((a′): the same inside an axum Router, over the same Router without the layer),
  (b) tower_sessions/read_one_key overhead / ours/read_one_key overhead >= 2,
  (c) axum_login/authenticated overhead / ours/auth_loader overhead >= 3,
  ((b′) and (c′): the same with ours' `_uncached` cases, a different session per request),
  (d) tower_sessions/write_one_key overhead / ours/write_one_key overhead >= 2;
- and, from the `floor/` cases, the best (a) and (d) that this design and wire format allow:
  (a) floor/handle_in_extensions over the same baseline (only putting a shared handle in the
  request's extensions), and (d) tower-sessions' write overhead over what any write of ours must
  cost at least: our read overhead plus floor/hmac_of_written_cookie's (one HMAC-SHA256 over the
  signing input of the cookie that ours/write_one_key writes).

The hot-set target (g) is also read from `<criterion dir>/paired/hot_set.json`, which the
compare bench writes after its criterion cases: the ratio measured in interleaved blocks (the
median over the blocks, with their quartiles), beside the one from two criterion cases.

It writes the tables to docs/bench/results.md, between the markers
`<!-- bench-report:start -->` and `<!-- bench-report:end -->` in BENCHMARKS.md (when present),
and a bar chart of the overheads (wall time, and instructions when counted) to
docs/bench/overhead.svg (hand-written SVG).

When scripts/bench_instructions.sh has run, its instruction counts (callgrind, insensitive to the
machine's other load) are added beside the wall times, and the targets are judged on both.

Usage: python3 scripts/bench_report.py [--criterion DIR ...] [--instructions FILE] [--no-write]
DIR defaults to $CARGO_TARGET_DIR/criterion, else benches/target/criterion. Given several DIRs
(copies of benches/target/criterion from successive runs), every ratio is computed inside each
run, where the peers ran side by side, and the targets are judged on the median of those per-run
ratios; the table of cases shows each case's median over the runs. Standard library only.
"""

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "baseline/no_middleware"
BASELINE_NO_COOKIE = "baseline/no_middleware_no_cookie"
BASELINE_ROUTER = "baseline/axum_router_no_cookie"
ROUTER = "ours/no_cookie_axum_router"
START, END = "<!-- bench-report:start -->", "<!-- bench-report:end -->"

# Display order; cases found but not listed here come last, sorted.
ORDER = [
    "baseline/no_middleware",
    "baseline/no_middleware_no_cookie",
    "baseline/axum_router_no_cookie",
    "floor/handle_in_extensions",
    "floor/hmac_of_written_cookie",
    "ours/no_cookie",
    "ours/no_cookie_axum_router",
    "ours/read_one_key",
    "ours/write_one_key",
    "ours/read_one_key_uncached",
    "ours/private_read_one_key",
    "ours/private_write_one_key",
    "ours/auth_loader",
    "ours/auth_loader_uncached",
    "ours/auth_loader_no_hash",
    "floor/gate_one_user",
    "tower_sessions/read_one_key",
    "tower_sessions/write_one_key",
    "axum_login/authenticated",
    "axum_extra_signed/read",
    "axum_extra_signed/read_write",
    # A site with many users (benches/many.rs).
    "baseline/cold_cookie",
    "baseline/cold_cookie_20_keys",
    "baseline/cold_cookie_2900b",
    "floor/verify_every_time",
    "floor/verify_every_time_20_keys",
    "floor/verify_every_time_2900b",
    "floor/seal_2900b",
    "ours/read_20_keys_uncached",
    "ours/read_2900b_uncached",
    "ours/write_one_key_uncached",
    "ours/write_2900b",
    "ours/read_hot_set",
    "ours/read_hot_set_flooded",
    "floor/hot_set",
    "floor/hot_set_spread",
    "ours/auth_many_users",
    "tower_sessions/read_one_key_uncached",
    "tower_sessions/read_20_keys_uncached",
    "tower_sessions/read_2900b_uncached",
    "tower_sessions/write_one_key_uncached",
    "tower_sessions/write_2900b",
    "axum_login/authenticated_many_users",
]

# Cases whose overhead is over a baseline other than BASELINE, and the baselines' footnotes.
COLD = "baseline/cold_cookie"
COLD_20 = "baseline/cold_cookie_20_keys"
COLD_2900 = "baseline/cold_cookie_2900b"
OWN_BASELINE = {
    "ours/no_cookie": BASELINE_NO_COOKIE,
    "floor/handle_in_extensions": BASELINE_NO_COOKIE,
    ROUTER: BASELINE_ROUTER,
    # A cookie no request sent before, one of a million taken in turn, comes from memory; the
    # request a server just read is in its caches. Fetching it is the harness's cost.
    "ours/read_one_key_uncached": COLD,
    "ours/write_one_key_uncached": COLD,
    "ours/auth_loader_uncached": COLD,
    "ours/auth_many_users": COLD,
    "floor/verify_every_time": COLD,
    "floor/verify_lazily": COLD,
    "floor/verify_lazily_in_layer": COLD,
    "floor/scan_in_layer": COLD,
    "floor/scan_in_cached_layer": COLD,
    "ours/read_20_keys_uncached": COLD_20,
    "floor/verify_every_time_20_keys": COLD_20,
    "ours/read_2900b_uncached": COLD_2900,
    "floor/verify_every_time_2900b": COLD_2900,
    "floor/verify_lazily_2900b": COLD_2900,
}
FOOTNOTES = {
    BASELINE_NO_COOKIE: ("¹", "no `Cookie` header on either side."),
    BASELINE_ROUTER: ("²", "the same axum `Router` without the layer, no `Cookie`."),
    COLD: ("³", "one-key session cookies, a million in turn, read once by a handler with no "
                "middleware: what fetching a cookie no request sent before costs the harness "
                "(login cookies are 90 bytes longer, so a little of their fetch is counted as "
                "the middleware's)."),
    COLD_20: ("⁴", "the 20-key cookies, the same way."),
    COLD_2900: ("⁵", "the ~2.9 KB cookies, the same way."),
}


def own_baseline(case, values):
    """The baseline other than BASELINE that `case` is measured against, when `values` has it."""
    other = OWN_BASELINE.get(case)
    return other if other in values else None


def baseline_of(case, values):
    """The baseline value `case` is compared with, from `values` (a case → number map)."""
    return values[own_baseline(case, values) or BASELINE]


def median(values):
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def load_all(criterion_dirs):
    """(each case's median over the runs, the runs themselves): the runs are `load`'s maps, in
    the order given; a case's (low, high) is the lowest and highest of its runs' confidence
    bounds."""
    runs = [load(d) for d in criterion_dirs]
    cases = {}
    for case in {c for run in runs for c in run}:
        seen = [run[case] for run in runs if case in run]
        cases[case] = (
            median([v[0] for v in seen]),
            min(v[1] for v in seen),
            max(v[2] for v in seen),
        )
    return cases, runs


def load(criterion_dir):
    """{case id: (median ns, low ns, high ns)} for every benchmark with a `new` estimate, and
    {PAIRED_*: (median ratio, first quartile, third quartile)} of the paired hot-set measurement
    when the run made one."""
    cases = {}
    paired = criterion_dir / "paired" / "hot_set.json"
    if paired.exists():
        measured = json.loads(paired.read_text())
        for name, key in ((PAIRED, "target"), (PAIRED_FLOOR, "floor")):
            got = measured[key]
            cases[name] = (got["median"], got["q1"], got["q3"])
    for estimates in sorted(criterion_dir.glob("**/new/estimates.json")):
        new = estimates.parent
        try:
            meta = json.loads((new / "benchmark.json").read_text())
            case = meta.get("full_id") or meta["title"]
        except (OSError, ValueError, KeyError):
            case = str(new.parent.relative_to(criterion_dir))
        median = json.loads(estimates.read_text())["median"]
        ci = median["confidence_interval"]
        cases[case] = (median["point_estimate"], ci["lower_bound"], ci["upper_bound"])
    return cases


def ordered(cases):
    """The timed cases (not the paired ratios), in the table's order."""
    known = [c for c in ORDER if c in cases]
    return known + sorted(c for c in cases if c not in ORDER and not c.startswith("paired/"))


def fmt_ns(ns):
    return f"{ns:,.0f}" if abs(ns) >= 100 else f"{ns:.1f}"


HANDLE, HMAC = "floor/handle_in_extensions", "floor/hmac_of_written_cookie"
# The paired hot-set measurement (benches/many.rs, `paired_hot_set`): ratios measured in
# interleaved blocks, read from `paired/hot_set.json`, not criterion cases.
PAIRED, PAIRED_FLOOR = "paired/hot_set", "paired/hot_set_floor"

# The targets and the floors of the two not met: (label, goal, goal is a ceiling?,
# kind, cases). "slowdown": cases[0] ÷ cases[1], both without a Cookie header. "speedup": the
# peer's overhead (cases[0]) ÷ the overhead of ours (the sum of cases[1:]'s overheads). "cost":
# cases[0]'s overhead ÷ cases[1]'s. "added": (cases[0]'s overhead + cases[1] − cases[2]) ÷
# cases[0]'s overhead: the best ours could do if a change of conditions added only what it adds
# to a floor.
TARGETS = [
    ("(a) `ours/no_cookie` ÷ `baseline/no_middleware_no_cookie`", 1.10, True, "slowdown",
     ("ours/no_cookie", BASELINE_NO_COOKIE)),
    (f"(a′) the same inside an axum `Router`: `{ROUTER}` ÷ `{BASELINE_ROUTER}`", 1.10, True,
     "slowdown", (ROUTER, BASELINE_ROUTER)),
    ("(b) session read: tower-sessions ÷ ours", 2.0, False, "speedup",
     ("tower_sessions/read_one_key", "ours/read_one_key")),
    ("(b′) the same, ours uncached", 2.0, False, "speedup",
     ("tower_sessions/read_one_key", "ours/read_one_key_uncached")),
    ("(c) logged-in request: axum-login ÷ ours", 3.0, False, "speedup",
     ("axum_login/authenticated", "ours/auth_loader")),
    ("(c′) the same, ours uncached", 3.0, False, "speedup",
     ("axum_login/authenticated", "ours/auth_loader_uncached")),
    ("(d) session write: tower-sessions ÷ ours", 2.0, False, "speedup",
     ("tower_sessions/write_one_key", "ours/write_one_key")),
    (f"(a) floor: `{HANDLE}` ÷ `{BASELINE_NO_COOKIE}`", 1.10, True, "slowdown",
     (HANDLE, BASELINE_NO_COOKIE)),
    ("(d) ceiling: tower-sessions ÷ (ours read + one HMAC of the written cookie)", 2.0, False,
     "speedup", ("tower_sessions/write_one_key", "ours/read_one_key", HMAC)),
    # A site with many users: a different session (or user) on most requests.
    ("(e) uncached read ÷ the verify-every-time floor (overheads)", 1.10, True, "cost",
     ("ours/read_one_key_uncached", "floor/verify_every_time")),
    ("(e′) uncached read: tower-sessions ÷ ours", 2.0, False, "speedup",
     ("tower_sessions/read_one_key_uncached", "ours/read_one_key_uncached")),
    ("(e′) ceiling: tower-sessions ÷ the lazy floor (verify, decode only what is read)", 2.0,
     False, "speedup", ("tower_sessions/read_one_key_uncached", "floor/verify_lazily")),
    ("(e′) tower-sessions ÷ the lazy floor run in a layer (the session handed to the handler "
     "in the extensions; JSON split by serde_json)", 2.0, False, "speedup",
     ("tower_sessions/read_one_key_uncached", "floor/verify_lazily_in_layer")),
    ("(e′) ceiling: tower-sessions ÷ the least layer (one block, one unchecked pass over the "
     "JSON)", 2.0, False, "speedup",
     ("tower_sessions/read_one_key_uncached", "floor/scan_in_layer")),
    ("(e′) ceiling: tower-sessions ÷ the least layer with a cache (one line of an index read "
     "and written)", 2.0, False, "speedup",
     ("tower_sessions/read_one_key_uncached", "floor/scan_in_cached_layer")),
    ("(f) 20 keys, uncached: tower-sessions ÷ ours", 1.0, False, "speedup",
     ("tower_sessions/read_20_keys_uncached", "ours/read_20_keys_uncached")),
    ("(f) 20 keys, uncached, ours ÷ its floor (overheads)", 1.10, True, "cost",
     ("ours/read_20_keys_uncached", "floor/verify_every_time_20_keys")),
    ("(f′) ~2.9 KB, uncached: tower-sessions ÷ ours", 1.0, False, "speedup",
     ("tower_sessions/read_2900b_uncached", "ours/read_2900b_uncached")),
    ("(f′) ~2.9 KB, uncached, ours ÷ its floor (overheads)", 1.10, True, "cost",
     ("ours/read_2900b_uncached", "floor/verify_every_time_2900b")),
    ("(f″) write into ~2.9 KB: tower-sessions ÷ ours", 1.5, False, "speedup",
     ("tower_sessions/write_2900b", "ours/write_2900b")),
    ("(f″) ceiling: tower-sessions ÷ the seal floor", 1.5, False, "speedup",
     ("tower_sessions/write_2900b", "floor/seal_2900b")),
    ("(g) hot set after the flood ÷ before (overheads)", 1.20, True, "cost",
     ("ours/read_hot_set_flooded", "ours/read_hot_set")),
    ("(g) floor: (ours before + what the spread adds to the least a cache touches) ÷ ours before",
     1.20, True, "added", ("ours/read_hot_set", "floor/hot_set_spread", "floor/hot_set")),
    # Paired: (the ratio measured, then the kind and cases its instruction count is taken as).
    ("(g) paired: hot set after the flood ÷ before (overheads), interleaved blocks", 1.20, True,
     "paired", (PAIRED, "cost", "ours/read_hot_set_flooded", "ours/read_hot_set")),
    ("(g) paired floor: the same with what the spread adds to the least a cache touches", 1.20,
     True, "paired", (PAIRED_FLOOR, "added", "ours/read_hot_set", "floor/hot_set_spread",
                      "floor/hot_set")),
    ("(h) logged in, a different user each request: axum-login ÷ ours", 2.0, False, "speedup",
     ("axum_login/authenticated_many_users", "ours/auth_many_users")),
    ("(h) ceiling: axum-login ÷ (the lazy floor + one HMAC, the auth-hash tag's)", 2.0, False,
     "speedup", ("axum_login/authenticated_many_users", "floor/verify_lazily", HMAC)),
    ("(h′) logged in, one user: axum-login ÷ ours", 5.0, False, "speedup",
     ("axum_login/authenticated", "ours/auth_loader")),
    ("(h′) ceiling: axum-login ÷ the gate floor (a cached login, one service, no policy)", 5.0,
     False, "speedup", ("axum_login/authenticated", "floor/gate_one_user")),
    ("(i) write, uncached: tower-sessions ÷ ours", 2.0, False, "speedup",
     ("tower_sessions/write_one_key_uncached", "ours/write_one_key_uncached")),
]


def target_value(values, kind, names, counted=False):
    """(ratio, detail text) of one target from `values` (case → ns or instructions, one run;
    `counted`: instructions), or None when a case is missing."""
    if kind == "paired":  # measured as a ratio: the median over its blocks, its quartiles
        if not counted:
            if names[0] not in values:
                return None
            mid, q1, q3 = values[names[0]]
            return mid, f"blocks' quartiles {q1:.2f}–{q3:.2f}"
        # Instruction counts: the unpaired cases' (no timing to pair).
        kind, names = names[1], names[2:]
    if any(n not in values for n in names) or BASELINE not in values:
        return None
    if kind == "slowdown":
        extra = values[names[0]] - values[names[1]]
        return values[names[0]] / values[names[1]], f"{extra:+,.0f}"
    def over(case):  # the case's overhead over its own baseline (the cold one, uncached)
        return values[case] - baseline_of(case, values)

    if kind == "cost":  # ours' overhead ÷ another's (a floor, or itself before a flood)
        ours, other = over(names[0]), over(names[1])
        if other <= 0:
            return None
        return ours / other, f"{fmt_ns(ours)} ÷ {fmt_ns(other)}"
    if kind == "added":  # ours' overhead with what a floor's variant adds to the floor
        ours, added = over(names[0]), values[names[1]] - values[names[2]]
        if ours <= 0:
            return None
        return (ours + added) / ours, f"({fmt_ns(ours)} {added:+,.0f}) ÷ {fmt_ns(ours)}"
    peer = over(names[0])
    ours = sum(over(n) for n in names[1:])
    if ours <= 0:
        return float("inf"), f"ours {fmt_ns(ours)}: within noise"
    return peer / ours, f"{fmt_ns(peer)} ÷ {fmt_ns(ours)}"


def is_met(ratio, goal, ceiling):
    return ratio <= goal if ceiling else ratio >= goal


def tables(cases, runs, instr):
    """Markdown tables. `cases`: each case's (median, low, high) over the runs; `runs`: each
    run's own such map; `instr`: cases → instructions per request (may be empty)."""
    base = cases[BASELINE][0]
    ibase = instr.get(BASELINE)
    with_instr = bool(instr) and ibase is not None
    out = []
    ci = "95% CI" if len(runs) == 1 else f"95% CI bounds, all {len(runs)} runs"
    head = f"| case | median ns/request | {ci} | overhead ns |"
    rule = "|---|---:|---:|---:|"
    if with_instr:
        head += " instructions/request | overhead instructions |"
        rule += "---:|---:|"
    out += [head, rule]
    medians = {c: v[0] for c, v in cases.items()}
    for case in ordered(cases):
        median_ns, low, high = cases[case]
        is_base = case.startswith("baseline/")
        overhead = "—" if is_base else fmt_ns(median_ns - baseline_of(case, medians))
        other = own_baseline(case, cases)
        if other and not is_base:
            overhead += FOOTNOTES[other][0]
        row = f"| `{case}` | {fmt_ns(median_ns)} | {fmt_ns(low)}–{fmt_ns(high)} | {overhead} |"
        if with_instr:
            n = instr.get(case)
            count = "?" if n is None else f"{n:,}"
            over = "—" if is_base or n is None else f"{n - baseline_of(case, instr):,}"
            row += f" {count} | {over} |"
        out.append(row)
    out.append("")
    out.append(
        f"Overhead = case − `{BASELINE}` ({fmt_ns(base)} ns"
        + (f", {ibase:,} instructions" if with_instr else "")
        + "): the same request through no middleware."
        + "".join(
            f" {mark} Over `{other}` instead: {text}"
            for other, (mark, text) in FOOTNOTES.items()
            if any(own_baseline(c, cases) == other for c in cases)
        )
    )
    if len(runs) > 1:
        out.append(
            f"Times: each case's median over {len(runs)} runs, each run's value being criterion's "
            "median; the CI column spans the lowest and highest bound of the runs. Ratios of this "
            "table's overheads mix runs; the targets below take theirs inside each run."
        )
    out.append("")

    # Wall-time ratios are taken inside each run, where the stacks ran side by side.
    run_values = [
        {c: v if c.startswith("paired/") else v[0] for c, v in run.items()} for run in runs
    ]
    head = "| target | wall time | goal | met? |"
    rule = "|---|---:|---:|:---:|"
    if with_instr:
        head += " instructions | met? |"
        rule += "---:|:---:|"
    out += [head, rule]
    per_run_rows = []
    for label, goal, ceiling, kind, names in TARGETS:
        each = [target_value(v, kind, names) for v in run_values]
        found = [f for f in each if f is not None]
        if not found:
            continue
        ratios = [f[0] for f in found]
        mid = median(ratios)
        if len(found) == 1:
            wall = f"{mid:.2f} ({found[0][1]}{' ns' if kind == 'slowdown' else ''})"
        else:
            wall = f"{mid:.2f} (runs: {min(ratios):.2f}–{max(ratios):.2f})"
        sign = "≤" if ceiling else "≥"
        row = f"| {label} | {wall} | {sign} {goal:g} | {'yes' if is_met(mid, goal, ceiling) else 'no'} |"
        if with_instr:
            got = target_value(instr, kind, names, counted=True)
            if got is None:
                row += " ? | ? |"
            else:
                row += f" {got[0]:.2f} ({got[1]}) | {'yes' if is_met(got[0], goal, ceiling) else 'no'} |"
        out.append(row)
        cells = " | ".join("—" if f is None else f"{f[0]:.2f}" for f in each)
        per_run_rows.append(f"| {label.split(':')[0]} | {cells} | **{mid:.2f}** |")
    if len(runs) > 1:
        out.append("")
        out.append(
            f"Wall time: the median of the target's ratio over {len(runs)} runs, each ratio taken "
            "inside one run (its peers measured side by side in it); a goal is judged on that "
            "median. The ratio in each run:"
        )
        out.append("")
        out.append("| target | " + " | ".join(f"run {i + 1}" for i in range(len(runs))) + " | median |")
        out.append("|---|" + "---:|" * (len(runs) + 1))
        out += per_run_rows
    return "\n".join(out) + "\n"


def esc(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def nice_step(peak, max_ticks=7):
    """The smallest 1, 2 or 5 × 10^k step that covers `peak` in at most `max_ticks` ticks."""
    k = 10 ** max(len(str(int(max(peak, 1)))) - 2, 0)
    while True:
        for mult in (1, 2, 5):
            if peak / (k * mult) <= max_ticks:
                return k * mult
        k *= 10


def svg_chart(cases, instr):
    """Horizontal bars of each case's overhead over the baseline: wall time (ns), and beside it
    instructions when `instr` has them."""
    names = [c for c in ordered(cases) if not c.startswith("baseline/")]
    medians = {c: v[0] for c, v in cases.items()}
    panels = [
        (
            "wall time, ns (median)",
            {c: medians[c] - baseline_of(c, medians) for c in names},
        )
    ]
    if instr.get(BASELINE) is not None:
        panels.append(
            (
                "instructions (callgrind)",
                {c: instr[c] - baseline_of(c, instr) for c in names if c in instr},
            )
        )
    label_w, bar_w, value_w, row_h, top, bottom = 240, 330, 70, 26, 78, 40
    panel_w = bar_w + value_w + 20
    width = label_w + panel_w * len(panels) + 10
    height = top + row_h * len(names) + bottom
    colour = {
        "floor": "#9a9a9a",
        "ours": "#2b7bb9",
        "tower_sessions": "#e08a2c",
        "axum_login": "#c0504d",
        "axum_extra_signed": "#7f9f3f",
    }
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" '
        'font-size="13">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="16" font-weight="bold">'
        "Middleware overhead per request over no middleware (lower is better)</text>",
        f'<text x="{width / 2}" y="40" text-anchor="middle" fill="#555">'
        "case − the same request through no middleware; 2-core VM, see BENCHMARKS.md for the "
        "machine and commands</text>",
    ]
    y_end = top + row_h * len(names)
    for i, case in enumerate(names):
        y = top + i * row_h
        out.append(
            f'<text x="{label_w - 8}" y="{y + row_h / 2 + 4:.1f}" text-anchor="end">'
            f"{esc(case)}</text>"
        )
    for p, (title, values) in enumerate(panels):
        x0 = label_w + p * panel_w
        peak = max(list(values.values()) + [1.0])
        step = nice_step(peak)
        axis_max = step * -(-peak // step)
        scale = bar_w / axis_max
        out.append(
            f'<text x="{x0 + bar_w / 2}" y="{top - 14}" text-anchor="middle" '
            f'font-weight="bold">{esc(title)}</text>'
        )
        tick = 0
        while tick <= axis_max:
            x = x0 + tick * scale
            out.append(
                f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{y_end}" stroke="#e3e3e3"/>'
            )
            label = f"{tick / 1000:g}k" if tick >= 1000 else f"{tick:g}"
            out.append(
                f'<text x="{x:.1f}" y="{y_end + 16}" text-anchor="middle" fill="#555">'
                f"{label}</text>"
            )
            tick += step
        for i, case in enumerate(names):
            if case not in values:
                continue
            y = top + i * row_h
            fill = colour.get(case.split("/", 1)[0], "#888888")
            length = max(values[case], 0) * scale
            out.append(
                f'<rect x="{x0}" y="{y + 4}" width="{length:.1f}" height="{row_h - 8}" '
                f'fill="{fill}"/>'
            )
            out.append(
                f'<text x="{x0 + length + 5:.1f}" y="{y + row_h / 2 + 4:.1f}" fill="#222">'
                f"{fmt_ns(values[case])}</text>"
            )
        out.append(f'<line x1="{x0}" y1="{top - 4}" x2="{x0}" y2="{y_end}" stroke="#333"/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "benches" / "target"))
    parser.add_argument(
        "--criterion",
        type=Path,
        action="append",
        help="a criterion output directory; repeat it for several runs (copies of "
        "benches/target/criterion): ratios are then taken inside each run, and their median reported",
    )
    parser.add_argument(
        "--instructions",
        type=Path,
        help="instructions.json of scripts/bench_instructions.sh "
        "(default: <criterion dir>/../bench-instructions/instructions.json, when present)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    dirs = args.criterion or [target / "criterion"]
    cases, runs = load_all(dirs)
    if BASELINE not in cases:
        sys.exit(f"no {BASELINE} estimate under {dirs[0]}: run `cargo bench --manifest-path benches/Cargo.toml --bench compare`")
    instr = {}
    if args.instructions and not args.instructions.exists():
        sys.exit(f"no instruction counts at {args.instructions}: run scripts/bench_instructions.sh")
    counts = args.instructions or dirs[0].parent / "bench-instructions" / "instructions.json"
    if counts.exists():
        instr = json.loads(counts.read_text())["instructions_per_request"]
    report = tables(cases, runs, instr)
    print(report)
    if args.no_write:
        return
    out_dir = ROOT / "docs" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.md").write_text(report)
    (out_dir / "overhead.svg").write_text(svg_chart(cases, instr))
    print(f"wrote {out_dir / 'results.md'} and {out_dir / 'overhead.svg'}")
    bench_md = ROOT / "BENCHMARKS.md"
    if bench_md.exists():
        text = bench_md.read_text()
        if START in text and END in text:
            head, rest = text.split(START, 1)
            _, tail = rest.split(END, 1)
            bench_md.write_text(f"{head}{START}\n{report}{END}{tail}")
            print(f"updated the tables in {bench_md}")


if __name__ == "__main__":
    main()
