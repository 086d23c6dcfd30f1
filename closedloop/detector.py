"""`closedloop rules apply`, `closedloop backtest` and `closedloop detect`: the detector from
the command line."""
from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

# The rules engine (and numpy with it) is imported by the commands that use it, not here:
# every `closedloop serve` process parses its arguments through this module.

from closedloop import backtest_progress
from closedloop.client import checked, confirmed, server_options, service_client


def register(sub: Any) -> None:
    rules = sub.add_parser("rules", help="rules as code").add_subparsers(dest="action", required=True)
    apply = rules.add_parser("apply", help="make the detector's rules match a file (shows the diff first)")
    apply.add_argument("file", type=Path)
    apply.add_argument("--yes", action="store_true", help="apply without asking")
    apply.add_argument("--dry-run", action="store_true", help="show the diff and stop")
    _server_options(apply)
    apply.set_defaults(run=cmd_rules_apply)

    backtest = sub.add_parser("backtest", help="replay a rule over history and score it")
    backtest.add_argument("file", type=Path, help="rules file holding the rule")
    backtest.add_argument("--rule", help="rule name (default: the file's only rule)")
    backtest.add_argument("--csv", type=Path, help="history to replay locally (NAB timestamp,value "
                          "or timestamp,entity,value); without it the detector's stored samples are used")
    backtest.add_argument("--entity", default="series", help="entity for a two-column CSV")
    backtest.add_argument("--windows", type=Path, help="labelled windows: JSON list of {start,end,entity} "
                          "or NAB's combined_windows.json (with --key)")
    backtest.add_argument("--key", help="the file's key in NAB's combined_windows.json")
    backtest.add_argument("--sweep", nargs="?", const="", help="vary a bound (dotted path; default: the first)")
    backtest.add_argument("--max-fp", type=float, default=0.2, help="target false-positive share")
    backtest.add_argument("--max-miss", type=float, default=0.05, help="target miss rate")
    backtest.add_argument("--json", action="store_true", help="print the raw result")
    _server_options(backtest)
    backtest.set_defaults(run=cmd_backtest)

    detect = sub.add_parser("detect", help="score a series with the adaptive detector")
    detect.add_argument("--adaptive", type=Path, required=True, metavar="FILE.csv",
                        help="NAB timestamp,value CSV; prints one score in [0, 1] per row")
    detect.set_defaults(run=cmd_detect)


def _server_options(parser: argparse.ArgumentParser) -> None:
    server_options(parser, "detector")


def _client(args: argparse.Namespace):
    return service_client(args, "detector")


def _load(path: Path):
    from pydantic import ValidationError

    from services.detector.rules import load_rules_file

    try:
        return load_rules_file(path.read_text())
    except (ValidationError, yaml.YAMLError) as error:
        raise SystemExit(f"{path}: {error}") from None


_checked = checked


# -- rules apply ----------------------------------------------------------------------------
def cmd_rules_apply(args: argparse.Namespace) -> int:
    wanted = _load(args.file)
    with _client(args) as client:
        metrics = {m["name"]: m for m in _checked(client.get("/v1/metrics/catalogue"))}
        rules = {r["name"]: r for r in _checked(client.get("/v1/rules"))}
        plan = plan_changes(wanted, metrics, rules)
        print(describe(plan))
        if not any(plan[k] for k in ("metrics", "create", "change")):
            return 0
        if args.dry_run:
            return 0
        if not confirmed(args):
            return 1
        if plan["metrics"]:
            _checked(client.put("/v1/metrics/catalogue", json=plan["metrics"]))
        for definition in plan["create"]:
            _checked(client.post("/v1/rules", json=definition))
        for rule_id, definition, _ in plan["change"]:
            _checked(client.put(f"/v1/rules/{rule_id}", json=definition))
    print("applied.")
    return 0


def plan_changes(wanted: Any, metrics: dict[str, dict], rules: dict[str, dict]) -> dict[str, list]:
    from services.detector.rules import definition_of

    declared = [m.model_dump(mode="json") for m in wanted.metrics]
    plan: dict[str, list] = {"metrics": [m for m in declared if metrics.get(m["name"]) != m],
                             "create": [], "change": [], "same": [],
                             "untouched": sorted(set(rules) - {r.name for r in wanted.rules})}
    for rule in wanted.rules:
        definition = definition_of(rule)
        current = rules.get(rule.name)
        if current is None:
            plan["create"].append(definition)
        elif current["definition"] != definition:
            plan["change"].append((current["id"], definition, current["definition"]))
        else:
            plan["same"].append(rule.name)
    return plan


def describe(plan: dict[str, list]) -> str:
    lines = [f"+ metric {m['name']}" for m in plan["metrics"]]
    lines += [f"+ rule {d['name']}" for d in plan["create"]]
    for _, new, old in plan["change"]:
        lines.append(f"~ rule {new['name']}")
        lines += ["    " + line for line in difflib.unified_diff(
            _yaml(old).splitlines(), _yaml(new).splitlines(), "current", "file", lineterm="", n=1)]
    lines += [f"= rule {name} (unchanged)" for name in plan["same"]]
    lines += [f"  rule {name} is not in the file and stays as it is" for name in plan["untouched"]]
    if not any(plan[k] for k in ("metrics", "create", "change")):
        lines.append("no changes.")
    return "\n".join(lines)


def _yaml(definition: dict) -> str:
    return yaml.safe_dump(definition, sort_keys=True, allow_unicode=True)


# -- backtest -------------------------------------------------------------------------------
def cmd_backtest(args: argparse.Namespace) -> int:
    from services.detector.rules import definition_of

    rules_file = _load(args.file)
    rule = _pick(rules_file, args.rule)
    metric = next((m for m in rules_file.metrics if m.name == rule.metric), None)
    windows = _windows(args)
    if args.csv is not None:
        result = local_backtest(rule, metric, args.csv.read_text(), args.entity, windows, args)
    else:
        with _client(args) as client:
            ids = {r["name"]: r["id"] for r in _checked(client.get("/v1/rules"))}
            body: dict[str, Any] = {"windows": windows_json(windows) if windows is not None else None}
            if args.sweep is not None:
                body["sweep"] = {"path": args.sweep or None, "max_false_positive_rate": args.max_fp,
                                 "max_miss_rate": args.max_miss}
            path = f"/v1/rules/{ids[rule.name]}/backtest" if rule.name in ids else "/v1/backtest"
            if rule.name not in ids:
                body["rule"] = definition_of(rule)
            result = backtest_progress.remote(client, path, body)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0


def local_backtest(rule: Any, metric: Any, csv: str, entity: str, windows: Any,
                   args: argparse.Namespace) -> dict[str, Any]:
    from services.detector.rules.backtest import read_samples_csv
    from services.detector.rules.backtest.run import SweepAsk, backtest

    try:
        samples = read_samples_csv(csv, metric=rule.metric, entity=entity)
    except ValueError as error:
        raise SystemExit(f"{args.csv}: {error}") from None
    ask = (SweepAsk(args.sweep or None, None, args.max_fp, args.max_miss)
           if args.sweep is not None else None)
    try:
        return backtest_progress.local(
            lambda progress: backtest(rule, samples, windows or [], metric, ask, progress))
    except (KeyError, ValueError) as error:
        raise SystemExit(f"--sweep: {error}") from None


def _pick(rules_file: Any, name: str | None) -> Any:
    if name is None and len(rules_file.rules) == 1:
        return rules_file.rules[0]
    found = [r for r in rules_file.rules if r.name == name]
    if not found:
        raise SystemExit(f"name the rule with --rule; the file has: "
                         f"{', '.join(r.name for r in rules_file.rules)}")
    return found[0]


def _windows(args: argparse.Namespace) -> Any:
    from services.detector.rules.backtest import read_windows

    if args.windows is None:
        return None
    data = json.loads(args.windows.read_text())
    if isinstance(data, dict):
        if args.key not in data:
            raise SystemExit(f"{args.windows}: pass --key with one of its files, e.g. {next(iter(data), '')}")
        data = data[args.key]
    return read_windows(data)


def windows_json(windows: Any) -> list[dict]:
    from datetime import datetime, timezone

    def iso(ts: float) -> str:
        return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat()
    return [{"start": iso(w.start), "end": iso(w.end), "entity": w.entity} for w in windows]


def report(result: dict[str, Any]) -> str:
    s, r = result["scores"], result["replay"]
    lines = [f"replayed {r['samples']} samples: {len(r['alerts'])} alerts, "
             f"{r['suppressed']} suppressed, {result['windows']} labelled windows"]
    lines.extend(f"note: {note}" for note in r.get("notes", []))
    if s:
        pct = lambda v: "—" if v is None else f"{100 * v:.1f}%"  # noqa: E731
        delay = s["detection_delay"]["median"]
        lines.append(f"precision {pct(s['precision'])}  false positives {pct(s['false_positive_rate'])}  "
                     f"misses {pct(s['miss_rate'])}  alerts/day {s['alerts_per_day']:.2f}  "
                     f"median delay {'—' if delay is None else f'{delay / 60:.0f} min'}")
    if result.get("predictions"):
        from services.detector.rules.backtest.lead_time import describe
        lines.extend(describe(result["predictions"]))
    if result.get("sweep"):
        sw = result["sweep"]
        lines.append("")
        for row in sw["rows"]:
            lines.append(f"  {row['bound']:>12g}  fp {pct(row['false_positive_rate'])}  "
                         f"miss {pct(row['miss_rate'])}  alerts/day {row['alerts_per_day']:.2f}")
        lines.append(f"recommended: {sw['recommended']['bound'] if sw['recommended'] else 'none'} — {sw['reason']}")
    return "\n".join(lines)


# -- detect ---------------------------------------------------------------------------------
def cmd_detect(args: argparse.Namespace) -> int:
    from services.detector.adaptive import DEFAULT, score_csv

    try:
        scores = score_csv(str(args.adaptive))
    except (OSError, ValueError) as error:
        raise SystemExit(f"{args.adaptive}: {error}") from None
    if len(scores) < DEFAULT.warmup:
        print(f"note: {len(scores)} rows; the adaptive score starts after {DEFAULT.warmup} rows "
              "(its warm-up), so every score here is 0", file=sys.stderr)
    try:
        sys.stdout.writelines(f"{value:.6f}\n" for value in scores)
        sys.stdout.flush()
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
