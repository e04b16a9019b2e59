"""The terminal report of one graded submission (`grader grade`, `grader submit --wait`)."""

from __future__ import annotations

from typing import Any

from grader.core.kinds import KINDS, TaskKind
from grader.core.outcomes import Status


def format_report(result: dict[str, Any], title: str, kind: TaskKind | None = None) -> str:
    """The human report of one graded submission, from the fields of `grader grade --json` (or the API).

    With the assignment's task kind (given, or named by the result's `task`), its metrics are named as
    the kind names them.
    """
    kind = kind or KINDS.get(str(result.get("task")))
    score = "-" if result.get("score") is None else f"{result['score']:g}"
    max_score = "-" if result.get("max_score") is None else f"{result['max_score']:g}"
    hidden = (result.get("feedback") or {}).get("hidden")  # over the daily limit: "hidden until ..."
    score_text = f"score {hidden}" if hidden else f"score: {score} / {max_score}"
    scored = result.get("status") == Status.SCORED.value
    lines = [title, f"status: {result.get('status')} ({result.get('outcome')})   {score_text}", ""]
    if not scored and result.get("student_message"):
        lines += [result["student_message"], ""]
    lines.append("criteria:")
    for c in result.get("criteria") or []:
        lines.append(f"  {c['points']:>6g} / {c['max_points']:<4g} {c.get('title') or c.get('id')}")
        lines.append(f"                 {c.get('feedback', '')}")
    checks = result.get("checks") or []
    if checks:
        lines.append("checks (reported by the run, no points; staff verify):")
        for c in checks:
            lines.append(
                f"  {'FLAG' if c.get('flagged') else 'ok':>6} {c.get('title') or c.get('id')}: {c.get('feedback', '')}"
            )
    metrics = result.get("metrics") or {}
    if metrics:
        lines += ["", f"metrics: {_metrics_line(metrics, kind)}"]
        lines += kind.report_lines(metrics) if kind is not None else []
    curve = [point for point in result.get("curve") or [] if isinstance(point, dict) and "loss" in point]
    if curve:
        first, last = curve[0], curve[-1]
        lines.append(
            f"training loss (as reported by the run): {first['loss']:.4g} at epoch {first['epoch']}, "
            f"{last['loss']:.4g} at epoch {last['epoch']}"
        )
    r = result.get("resources") or {}
    if r:
        lines.append(
            f"resources: wall {r['wall_s']:.1f} s, CPU {r['cpu_s']:.1f} s, peak memory {r['peak_memory_bytes'] / 1024**2:.0f} MiB"
        )
    if not scored and result.get("log"):
        tail = result["log"].rstrip().splitlines()[-15:]
        lines += ["", "last lines of the log:", *("  " + line for line in tail)]
    return "\n".join(lines)


def _metrics_line(metrics: dict[str, Any], kind: TaskKind | None) -> str:
    """The kind's summary of the metrics, or (kind unknown) every single-number metric by name."""
    if kind is not None:
        return kind.summary(metrics)
    numbers = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return ", ".join(f"{name} {value:.4g}" for name, value in numbers.items()) or "none"
