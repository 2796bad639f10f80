#!/usr/bin/env python3
"""Tables and chart for BENCHMARKS.md from a `cargo bench --bench compare` run (issue 7).

Reads criterion's `<target>/criterion/**/new/estimates.json` and prints, as Markdown:

- every case's median time per request (with criterion's 95% confidence interval) and its
  overhead over `baseline/no_middleware` (the same request through no middleware);
- the four targets of issue 7:
  (a) ours/no_cookie within 10% of the baseline (both without a Cookie header),
  (b) tower_sessions/read_one_key overhead / ours/read_one_key overhead >= 2,
  (c) axum_login/authenticated overhead / ours/auth_loader overhead >= 3,
  ((b′) and (c′): the same with ours' `_uncached` cases, a different session per request),
  (d) tower_sessions/write_one_key overhead / ours/write_one_key overhead >= 2;
- and, from the `floor/` cases, the best (a) and (d) that this design and wire format allow:
  (a) floor/handle_in_extensions over the same baseline (only putting a shared handle in the
  request's extensions), and (d) tower-sessions' write overhead over what any write of ours must
  cost at least: our read overhead plus floor/hmac_of_written_cookie's (one HMAC-SHA256 over the
  signing input of the cookie that ours/write_one_key writes).

It writes the tables to docs/bench/results.md, between the markers
`<!-- bench-report:start -->` and `<!-- bench-report:end -->` in BENCHMARKS.md (when present),
and a bar chart of the overheads (wall time, and instructions when counted) to
docs/bench/overhead.svg (hand-written SVG).

When scripts/bench_instructions.sh has run, its instruction counts (callgrind, insensitive to the
machine's other load) are added beside the wall times, and the targets are judged on both.

Usage: python3 scripts/bench_report.py [--criterion DIR ...] [--instructions FILE] [--no-write]
DIR defaults to $CARGO_TARGET_DIR/criterion, else target/criterion. Given several DIRs (copies of
target/criterion from successive runs), each case takes its fastest run: other load on the machine
only ever adds time. Standard library only.
"""

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "baseline/no_middleware"
BASELINE_NO_COOKIE = "baseline/no_middleware_no_cookie"
START, END = "<!-- bench-report:start -->", "<!-- bench-report:end -->"

# Display order; cases found but not listed here come last, sorted.
ORDER = [
    "baseline/no_middleware",
    "baseline/no_middleware_no_cookie",
    "floor/handle_in_extensions",
    "floor/hmac_of_written_cookie",
    "ours/no_cookie",
    "ours/read_one_key",
    "ours/write_one_key",
    "ours/read_one_key_uncached",
    "ours/private_read_one_key",
    "ours/private_write_one_key",
    "ours/auth_loader",
    "ours/auth_loader_uncached",
    "ours/auth_loader_no_hash",
    "tower_sessions/read_one_key",
    "tower_sessions/write_one_key",
    "axum_login/authenticated",
    "axum_extra_signed/read",
    "axum_extra_signed/read_write",
]

# (label, peer case, our case, target ratio)
RATIOS = [
    ("(b) session read: tower-sessions ÷ ours", "tower_sessions/read_one_key", "ours/read_one_key", 2.0),
    ("(b′) the same, ours uncached", "tower_sessions/read_one_key", "ours/read_one_key_uncached", 2.0),
    ("(c) logged-in request: axum-login ÷ ours", "axum_login/authenticated", "ours/auth_loader", 3.0),
    ("(c′) the same, ours uncached", "axum_login/authenticated", "ours/auth_loader_uncached", 3.0),
    ("(d) session write: tower-sessions ÷ ours", "tower_sessions/write_one_key", "ours/write_one_key", 2.0),
]


# Cases sent without a Cookie header: their overhead is over the baseline without one.
NO_COOKIE = {"ours/no_cookie", "floor/handle_in_extensions"}


def baseline_of(case, values):
    """The baseline value `case` is compared with, from `values` (a case → number map)."""
    if case in NO_COOKIE and BASELINE_NO_COOKIE in values:
        return values[BASELINE_NO_COOKIE]
    return values[BASELINE]


def load_all(criterion_dirs):
    """Each case's estimate from the run with the lowest median, and how many runs had it.

    Other load on the machine only ever adds time, so with several runs of a noisy machine the
    fastest is the one nearest a quiet machine's."""
    best, runs = {}, {}
    for criterion_dir in criterion_dirs:
        for case, estimate in load(criterion_dir).items():
            runs[case] = runs.get(case, 0) + 1
            if case not in best or estimate[0] < best[case][0]:
                best[case] = estimate
    return best, runs


def load(criterion_dir):
    """{case id: (median ns, low ns, high ns)} for every benchmark with a `new` estimate."""
    cases = {}
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
    known = [c for c in ORDER if c in cases]
    return known + sorted(c for c in cases if c not in ORDER)


def fmt_ns(ns):
    return f"{ns:,.0f}" if abs(ns) >= 100 else f"{ns:.1f}"


def ratio_cell(peer_over, ours_over, goal, unit):
    """(value text, met?) for a peer overhead ÷ our overhead."""
    if ours_over <= 0:
        return f"∞ (ours {fmt_ns(ours_over)} {unit}: within noise)", True
    ratio = peer_over / ours_over
    return f"{ratio:.2f} ({fmt_ns(peer_over)} ÷ {fmt_ns(ours_over)})", ratio >= goal


def tables(cases, instr):
    """Markdown tables; `instr` maps cases to instructions per request (may be empty)."""
    base = cases[BASELINE][0]
    ibase = instr.get(BASELINE)
    with_instr = bool(instr) and ibase is not None
    out = []
    head = "| case | median ns/request | 95% CI | overhead ns |"
    rule = "|---|---:|---:|---:|"
    if with_instr:
        head += " instructions/request | overhead instructions |"
        rule += "---:|---:|"
    out += [head, rule]
    for case in ordered(cases):
        median, low, high = cases[case]
        is_base = case.startswith("baseline/")
        medians = {c: v[0] for c, v in cases.items()}
        overhead = "—" if is_base else fmt_ns(median - baseline_of(case, medians))
        if case in NO_COOKIE and BASELINE_NO_COOKIE in cases:
            overhead += "¹"
        row = f"| `{case}` | {fmt_ns(median)} | {fmt_ns(low)}–{fmt_ns(high)} | {overhead} |"
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
        + (
            f" ¹ Over `{BASELINE_NO_COOKIE}` instead: no `Cookie` header on either side."
            if any(c in cases for c in NO_COOKIE) and BASELINE_NO_COOKIE in cases
            else ""
        )
    )
    out.append("")

    head = "| target | wall time | goal | met? |"
    rule = "|---|---:|---:|:---:|"
    if with_instr:
        head = "| target | wall time | goal | met? | instructions | met? |"
        rule = "|---|---:|---:|:---:|---:|:---:|"
    out += [head, rule]
    # (a): both sides without a Cookie header, when the run has that baseline.
    base_a = BASELINE_NO_COOKIE if BASELINE_NO_COOKIE in cases else BASELINE
    if "ours/no_cookie" in cases:
        ratio = cases["ours/no_cookie"][0] / cases[base_a][0]
        extra = cases["ours/no_cookie"][0] - cases[base_a][0]
        row = (
            f"| (a) `ours/no_cookie` ÷ `{base_a}` | {ratio:.2f} ({extra:+,.0f} ns) | ≤ 1.10 "
            f"| {'yes' if ratio <= 1.10 else 'no'} |"
        )
        if with_instr:
            if "ours/no_cookie" in instr and base_a in instr:
                iratio = instr["ours/no_cookie"] / instr[base_a]
                iextra = instr["ours/no_cookie"] - instr[base_a]
                row += f" {iratio:.2f} ({iextra:+,}) | {'yes' if iratio <= 1.10 else 'no'} |"
            else:
                row += " ? | ? |"
        out.append(row)
    for label, peer, ours, goal in RATIOS:
        if peer not in cases or ours not in cases:
            continue
        value, met = ratio_cell(cases[peer][0] - base, cases[ours][0] - base, goal, "ns")
        row = f"| {label} | {value} | ≥ {goal:g} | {'yes' if met else 'no'} |"
        if with_instr:
            if peer in instr and ours in instr:
                ivalue, imet = ratio_cell(instr[peer] - ibase, instr[ours] - ibase, goal, "")
                row += f" {ivalue} | {'yes' if imet else 'no'} |"
            else:
                row += " ? | ? |"
        out.append(row)
    out += floors(cases, instr, with_instr)
    return "\n".join(out) + "\n"


def floors(cases, instr, with_instr):
    """Rows of the best (a) and (d) this design allows, from the `floor/` cases."""
    rows = []
    handle, hmac = "floor/handle_in_extensions", "floor/hmac_of_written_cookie"
    read, write, peer = "ours/read_one_key", "ours/write_one_key", "tower_sessions/write_one_key"
    if handle in cases and BASELINE_NO_COOKIE in cases:
        ratio = cases[handle][0] / cases[BASELINE_NO_COOKIE][0]
        extra = cases[handle][0] - cases[BASELINE_NO_COOKIE][0]
        row = (
            f"| (a) floor: `{handle}` ÷ `{BASELINE_NO_COOKIE}` | {ratio:.2f} ({extra:+,.0f} ns) "
            f"| ≤ 1.10 | {'yes' if ratio <= 1.10 else 'no'} |"
        )
        if with_instr:
            if handle in instr and BASELINE_NO_COOKIE in instr:
                iratio = instr[handle] / instr[BASELINE_NO_COOKIE]
                iextra = instr[handle] - instr[BASELINE_NO_COOKIE]
                row += f" {iratio:.2f} ({iextra:+,}) | {'yes' if iratio <= 1.10 else 'no'} |"
            else:
                row += " ? | ? |"
        rows.append(row)
    if all(c in cases for c in (hmac, read, peer)):
        base = cases[BASELINE][0]
        least = (cases[read][0] - base) + (cases[hmac][0] - base)
        value, met = ratio_cell(cases[peer][0] - base, least, 2.0, "ns")
        row = (
            f"| (d) ceiling: tower-sessions ÷ (ours read + one HMAC of the written cookie) "
            f"| {value} | ≥ 2 | {'yes' if met else 'no'} |"
        )
        if with_instr:
            if all(c in instr for c in (hmac, read, peer)):
                ibase = instr[BASELINE]
                ileast = (instr[read] - ibase) + (instr[hmac] - ibase)
                ivalue, imet = ratio_cell(instr[peer] - ibase, ileast, 2.0, "")
                row += f" {ivalue} | {'yes' if imet else 'no'} |"
            else:
                row += " ? | ? |"
        rows.append(row)
    return rows


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
            "wall time, ns (fastest run's median)",
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
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    parser.add_argument(
        "--criterion",
        type=Path,
        action="append",
        help="a criterion output directory; repeat it for several runs (copies of "
        "target/criterion): each case then takes its fastest run",
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
        sys.exit(f"no {BASELINE} estimate under {dirs[0]}: run `cargo bench --bench compare`")
    instr = {}
    counts = args.instructions or dirs[0].parent / "bench-instructions" / "instructions.json"
    if counts.exists():
        instr = json.loads(counts.read_text())["instructions_per_request"]
    report = tables(cases, instr)
    if len(dirs) > 1:
        report += (
            f"\nWall times: each case's fastest of {len(dirs)} runs "
            f"({min(runs.values())} to {max(runs.values())} runs per case).\n"
        )
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
