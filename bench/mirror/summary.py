"""bench/mirror/run.sh's summary: python3 summary.py RESULTS.jsonl SETTINGS-JSON > mirror.json.

Per figure the median and the spread (min-max) of the per-repetition values; every ratio is taken
within its repetition (Sluice / MirrorMaker 2, both measured minutes apart on the same machine), so
load that changes between repetitions cancels out of it.
"""

import json
import statistics
import sys


def per_run(runs, figure):
    values = []
    for run in runs:
        try:
            values.append(figure(run))
        except (TypeError, KeyError, ZeroDivisionError):
            pass  # a contender missing in that repetition: the figure has fewer runs
    return values


def spread(values):
    if not values:
        return None
    values = [round(v, 3) for v in values]
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": values}


def translated(phase):
    t = phase["translated_on_b"]
    return t["with_offset"] == t["partitions"]


def figures():
    tp = lambda r, who, k: r["throughput"][who]["run"][k]
    lag = lambda r, who, k: r["lag"][who]["on_b"][k]
    direct = lambda r, who, k: r["lag"][who]["direct_on_a"][k]
    return {
        "sluice_records_per_s": lambda r: tp(r, "sluice", "records_per_s"),
        "mm2_records_per_s": lambda r: tp(r, "mm2", "records_per_s"),
        "ratio_records_per_s": lambda r: tp(r, "sluice", "records_per_s") / tp(r, "mm2", "records_per_s"),
        "sluice_records_per_cpu_s": lambda r: tp(r, "sluice", "records_per_cpu_s"),
        "mm2_records_per_cpu_s": lambda r: tp(r, "mm2", "records_per_cpu_s"),
        # The goal: >= 2.
        "ratio_records_per_cpu_s": lambda r: tp(r, "sluice", "records_per_cpu_s") / tp(r, "mm2", "records_per_cpu_s"),
        "sluice_lag_p50_ms": lambda r: lag(r, "sluice", "p50_ms"),
        "mm2_lag_p50_ms": lambda r: lag(r, "mm2", "p50_ms"),
        "sluice_lag_p99_ms": lambda r: lag(r, "sluice", "p99_ms"),
        "mm2_lag_p99_ms": lambda r: lag(r, "mm2", "p99_ms"),
        "sluice_lag_max_ms": lambda r: lag(r, "sluice", "max_ms"),
        "mm2_lag_max_ms": lambda r: lag(r, "mm2", "max_ms"),
        # The goal: < 1.
        "ratio_lag_p99": lambda r: lag(r, "sluice", "p99_ms") / lag(r, "mm2", "p99_ms"),
        # What the mirror adds to reading A directly (the same percentile of the consumer on A at the
        # same time): the paced producer's linger and broker A's own delays drop out.
        "sluice_lag_p50_over_direct_ms": lambda r: lag(r, "sluice", "p50_ms") - direct(r, "sluice", "p50_ms"),
        "mm2_lag_p50_over_direct_ms": lambda r: lag(r, "mm2", "p50_ms") - direct(r, "mm2", "p50_ms"),
        "sluice_lag_p99_over_direct_ms": lambda r: lag(r, "sluice", "p99_ms") - direct(r, "sluice", "p99_ms"),
        "mm2_lag_p99_over_direct_ms": lambda r: lag(r, "mm2", "p99_ms") - direct(r, "mm2", "p99_ms"),
        "direct_on_a_p99_ms_during_sluice": lambda r: r["lag"]["sluice"]["direct_on_a"]["p99_ms"],
        "direct_on_a_p99_ms_during_mm2": lambda r: r["lag"]["mm2"]["direct_on_a"]["p99_ms"],
        "sluice_records_per_cpu_s_at_rate": lambda r: lag(r, "sluice", "records_per_cpu_s"),
        "mm2_records_per_cpu_s_at_rate": lambda r: lag(r, "mm2", "records_per_cpu_s"),
        "ratio_records_per_cpu_s_at_rate":
            lambda r: lag(r, "sluice", "records_per_cpu_s") / lag(r, "mm2", "records_per_cpu_s"),
        "sluice_vm_hwm_mb": lambda r: max(r["throughput"]["sluice"]["vm_hwm_kb"], r["lag"]["sluice"]["vm_hwm_kb"]) / 1024,
        "mm2_vm_hwm_mb": lambda r: max(r["throughput"]["mm2"]["vm_hwm_kb"], r["lag"]["mm2"]["vm_hwm_kb"]) / 1024,
        "ratio_vm_hwm": lambda r: max(r["throughput"]["sluice"]["vm_hwm_kb"], r["lag"]["sluice"]["vm_hwm_kb"]) /
            max(r["throughput"]["mm2"]["vm_hwm_kb"], r["lag"]["mm2"]["vm_hwm_kb"]),
    }


def main():
    runs = [json.loads(line) for line in open(sys.argv[1])]
    settings = json.loads(sys.argv[2])
    settings["repetitions"] = len(runs)
    summary = {name: spread(per_run(runs, f)) for name, f in figures().items()}
    cpu = per_run(runs, figures()["ratio_records_per_cpu_s"])
    p99 = per_run(runs, figures()["ratio_lag_p99"])
    summary["goal_cpu_2x_met_every_run"] = bool(cpu) and len(cpu) == len(runs) and min(cpu) >= 2.0
    summary["goal_lower_p99_met_every_run"] = bool(p99) and len(p99) == len(runs) and max(p99) < 1.0
    # Offset translation must have happened in every phase, or the figures are of a lighter job.
    summary["offsets_translated_every_phase"] = {
        who: all(translated(r[phase][who]) for r in runs for phase in ("throughput", "lag")) for who in ("sluice", "mm2")
    }
    print(json.dumps({"settings": settings, "summary": summary, "runs": runs}, indent=2, sort_keys=True))


main()
