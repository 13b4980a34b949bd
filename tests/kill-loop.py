#!/usr/bin/env python3
"""Kill loop (issue 18): SIGKILL `midgame run` at random moments over a growing archive,
and check that the lake ends with exactly what uninterrupted runs give: the same rows
(file, line), the same alerts (ids, status, last_seen) and the same emitted changes
(replayed from the output folder).

Not part of `cargo test` (it takes minutes): run it by hand or from a nightly job.

    tests/kill-loop.py                               # 50 kills, the debug binary
    MIDGAME=target/release/midgame KILLS=200 SEED=7 tests/kill-loop.py

The archive: `midgame gen` (6 users, 12 days, one intrusion) arriving in STEPS steps,
each step adding files and cutting the newest one mid-line (completed by the next step).
Both lakes see the same steps; the killed one gets KILLS kills spread over them, each a
random moment into a run, and one uninterrupted run after the last step.
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MIDGAME = os.environ.get("MIDGAME") or str(
    Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "debug" / "midgame"
)
KILLS = int(os.environ.get("KILLS", "50"))
STEPS = int(os.environ.get("STEPS", "10"))
SEED = int(os.environ.get("SEED", "1"))


def midgame(*args, check=True):
    env = dict(os.environ, NO_COLOR="1", XDG_CONFIG_HOME="/nonexistent")
    env.pop("MIDGAME_CRASH_AT", None)
    p = subprocess.run([MIDGAME, *args], capture_output=True, text=True, env=env)
    if check and p.returncode != 0:
        sys.exit(f"midgame {' '.join(args)} failed ({p.returncode}):\n{p.stderr}")
    return p


def write_config(root: Path):
    root.mkdir(parents=True, exist_ok=True)
    (root / "midgame.toml").write_text(
        """[identity]
default_domain = "acme.test"
[lake]
path = "lake"
[[archive]]
source = "okta"
paths = ["live/okta/*.ndjson"]
[[archive]]
source = "admin-audit"
paths = ["live/admin/*.ndjson"]
[run]
settle_seconds = 3600
[output]
dir = "out"
"""
    )


def steps(files, rng):
    """For each step: (files whole, (file, cut bytes) or None)."""
    plan = []
    per = max(1, len(files) // STEPS)
    for k in range(1, STEPS + 1):
        whole = files[: min(len(files), k * per)] if k < STEPS else files
        nxt = files[len(whole)] if len(whole) < len(files) else None
        cut = (nxt, rng.randint(1, nxt.stat().st_size - 1)) if nxt else None
        plan.append((whole, cut))
    return plan


def place(src: Path, root: Path, step):
    whole, cut = step
    for f in whole:
        dest = root / "live" / f.relative_to(src)
        dest.parent.mkdir(parents=True, exist_ok=True)
        data = f.read_bytes()
        if not dest.exists() or dest.read_bytes() != data:
            dest.write_bytes(data)
    if cut:
        f, n = cut
        dest = root / "live" / f.relative_to(src)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(f.read_bytes()[:n])


def run(root: Path):
    p = midgame("run", "--config", str(root / "midgame.toml"), check=False)
    last = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
    if "status=ok" not in last and "status=degraded" not in last:
        sys.exit(f"run failed: {last}\n{p.stderr}")


def killed_run(root: Path, delay: float):
    env = dict(os.environ, NO_COLOR="1", XDG_CONFIG_HOME="/nonexistent")
    p = subprocess.Popen(
        [MIDGAME, "run", "--config", str(root / "midgame.toml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    time.sleep(delay)
    p.kill()
    p.wait()


def rows(root: Path):
    out = []
    for table in ("auth", "admin"):
        p = midgame(
            "sql", "--lake", str(root / "lake"), "--format", "ndjson",
            f"SELECT file, line FROM {table}",
        )
        for line in p.stdout.splitlines():
            r = json.loads(line)
            out.append((table, os.path.relpath(r["file"], root), r["line"]))
    return sorted(out)


def alerts(root: Path):
    p = midgame(
        "sql", "--lake", str(root / "lake"), "--format", "ndjson",
        "SELECT alert_id, status, last_seen FROM alerts ORDER BY alert_id",
    )
    return [json.loads(l) for l in p.stdout.splitlines()]


def replay(root: Path):
    held = {}
    out = root / "out"
    for f in sorted(out.glob("*.ndjson")) if out.exists() else []:
        for line in f.read_text().splitlines():
            v = json.loads(line)
            if v["type"] != "alert":
                continue
            if v["change"] == "retracted":
                held.pop(v["alert_id"], None)
            else:
                held[v["alert_id"]] = v["last_seen"]
    return held


def main():
    if not Path(MIDGAME).exists():
        sys.exit(f"no midgame binary at {MIDGAME} (cargo build -p midgame, or set MIDGAME)")
    rng = random.Random(SEED)
    work = Path(tempfile.mkdtemp(prefix="midgame-kill-loop-"))
    src = work / "archive"
    midgame("gen", "--users", "6", "--days", "12", "--seed", "3", "--attack", "--out", str(src))
    files = sorted(p for p in src.rglob("*.ndjson"))
    plan = steps(files, rng)

    ref = work / "reference"
    write_config(ref)
    started = time.time()
    for step in plan:
        place(src, ref, step)
        run(ref)
    run(ref)
    per_run = (time.time() - started) / (len(plan) + 1)

    test = work / "killed"
    write_config(test)
    kills_per_step = [KILLS // len(plan) + (1 if i < KILLS % len(plan) else 0) for i in range(len(plan))]
    done = 0
    for step, kills in zip(plan, kills_per_step):
        place(src, test, step)
        for _ in range(kills):
            killed_run(test, rng.uniform(0.0, per_run * 1.2))
            done += 1
    run(test)
    run(test)

    checks = {
        "rows": (rows(ref), rows(test)),
        "alerts": (alerts(ref), alerts(test)),
        "emitted": (replay(ref), replay(test)),
    }
    bad = [k for k, (a, b) in checks.items() if a != b]
    n_rows, n_alerts = len(checks["rows"][0]), len(checks["alerts"][0])
    print(
        f"{done} kills over {len(plan)} steps (a run takes ~{per_run:.1f} s): "
        f"{n_rows} rows, {n_alerts} alerts, {len(checks['emitted'][0])} held from the outputs"
    )
    if bad:
        print(f"DIFFERENT: {', '.join(bad)} (kept in {work})")
        sys.exit(1)
    print("same rows, alert ids and emitted changes as uninterrupted runs")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
