#!/usr/bin/env python3
"""midgame next to DuckDB, side by side on one machine (run through benches/peer/run.sh).

Steps, each run RUNS times alternating midgame and DuckDB, medians reported:
  ingest okta, detection columns   midgame ingest --raw none   | DuckDB read_json with the
                                                                  same fields -> zstd(3) Parquet
  ingest okta, every field         midgame ingest --raw full   | DuckDB read_json, all fields
                                   (columns + original record)    (nested) -> zstd(3) Parquet
  ingest admin, detection columns  as above, for the admin audit log
  cluster the lake                  midgame compact (the layout its detections read; DuckDB
                                   reads the same files, so it is timed on its own)
  each detection                   midgame detect (one query)  | the same SQL text, the same
                                                                  views, over the same Parquet
  all detections in one run        midgame detect (every one)  | the sum of DuckDB's separate
                                                                  queries (one process each)
Both sides run as fresh processes (start-up included) on the same number of threads;
CPU seconds are the child's user + system time, peak RSS the child's maximum resident set
(for DuckDB's sum, the largest of its processes). Ratio = DuckDB wall / midgame wall.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

DUCK_RUNNER = r"""
import duckdb, json, sys
spec = json.load(open(sys.argv[1]))
con = duckdb.connect()
con.execute(f"SET threads = {spec['threads']}")
*setup, last = spec["statements"]
for stmt in setup:
    con.execute(stmt)
if spec.get("scalar"):
    result = con.execute(last).fetchone()[0]
else:
    # The whole result is computed and kept (as midgame collects it), then counted.
    con.execute(f"CREATE TEMP TABLE result AS {last}")
    result = con.execute("SELECT count(*) FROM result").fetchone()[0]
print(json.dumps({"result": result}))
"""

OKTA_COLUMNS = {
    "published": "VARCHAR",
    "eventType": "VARCHAR",
    "actor": "STRUCT(alternateId VARCHAR)",
    "client": "STRUCT(ipAddress VARCHAR, userAgent STRUCT(rawUserAgent VARCHAR, os VARCHAR, browser VARCHAR), "
    "geographicalContext STRUCT(city VARCHAR, country VARCHAR, geolocation STRUCT(lat DOUBLE, lon DOUBLE)))",
    "outcome": "STRUCT(result VARCHAR, reason VARCHAR)",
    "securityContext": "STRUCT(asNumber BIGINT, asOrg VARCHAR, isProxy BOOLEAN)",
    "debugContext": "STRUCT(debugData STRUCT(deviceFingerprint VARCHAR, dtHash VARCHAR, risk VARCHAR))",
    "authenticationContext": "STRUCT(externalSessionId VARCHAR, credentialType VARCHAR)",
    "device": "STRUCT(id VARCHAR)",
    "target": "STRUCT(type VARCHAR, displayName VARCHAR, alternateId VARCHAR)[]",
    "request": "STRUCT(ipChain STRUCT(ip VARCHAR)[])",
}

# The columns midgame's okta parser fills (docs/tables.md), computed the same way.
OKTA_SELECT = """
    CAST(published AS TIMESTAMPTZ) AS time,
    epoch_ms(CAST(published AS TIMESTAMPTZ)) AS time_ms,
    'okta' AS source,
    eventType AS event_type,
    CASE WHEN outcome.result IN ('SUCCESS', 'ALLOW') THEN 'success'
         WHEN outcome.result IN ('FAILURE', 'DENY') THEN 'failure' ELSE 'unknown' END AS outcome,
    outcome.reason AS outcome_reason,
    lower(actor.alternateId) AS user,
    actor.alternateId AS user_raw,
    client.ipAddress AS src_ip,
    client.geographicalContext.geolocation.lat AS geo_lat,
    client.geographicalContext.geolocation.lon AS geo_lon,
    client.geographicalContext.city AS geo_city,
    client.geographicalContext.country AS geo_country,
    securityContext.asNumber AS asn,
    securityContext.asOrg AS as_org,
    securityContext.isProxy AS is_proxy,
    coalesce(debugContext.debugData.deviceFingerprint, device.id) AS device_id,
    client.userAgent.rawUserAgent AS user_agent,
    client.userAgent.os AS os,
    client.userAgent.browser AS browser,
    target[1].displayName AS app,
    authenticationContext.externalSessionId AS session_id,
    authenticationContext.credentialType AS mfa_factor,
    debugContext.debugData.risk AS risk,
    request.ipChain[1].ip AS proxy_ip,
    filename AS file
"""

ADMIN_COLUMNS = {
    "time": "VARCHAR",
    "actor": "VARCHAR",
    "src_ip": "VARCHAR",
    "session_id": "VARCHAR",
    "tool": "VARCHAR",
    "action": "VARCHAR",
    "target_type": "VARCHAR",
    "target_id": "VARCHAR",
    "customer_id": "VARCHAR",
    "records": "BIGINT",
    "bytes": "BIGINT",
    "outcome": "VARCHAR",
    "user_agent": "VARCHAR",
}

ADMIN_SELECT = """
    CAST(time AS TIMESTAMPTZ) AS time,
    epoch_ms(CAST(time AS TIMESTAMPTZ)) AS time_ms,
    'admin-audit' AS source,
    tool, lower(actor) AS user, actor AS user_raw, src_ip, session_id, action,
    split_part(action, '.', -1) AS activity,
    target_type, target_id, customer_id, records, bytes, outcome, user_agent,
    filename AS file
"""


def duck_columns(cols):
    return "{" + ", ".join(f"{k}: '{v}'" for k, v in cols.items()) + "}"


PEAK_RSS = {}


def timed(cmd, env=None, capture=False):
    """Wall and CPU seconds of one process; its peak RSS (MiB) is kept in PEAK_RSS["last"]."""
    import tempfile

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out if capture else subprocess.DEVNULL, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        out.seek(0)
        if proc.returncode != 0:
            sys.exit(f"failed: {' '.join(cmd)}\n{err.read()}")
        PEAK_RSS["last"] = usage.ru_maxrss / 1024
        return wall, usage.ru_utime + usage.ru_stime, out.read() if capture else ""


class Peer:
    def __init__(self, args):
        self.a = args
        self.work = os.path.abspath(args.work)
        self.env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads), RUST_LOG="error")
        self.runner = os.path.join(self.work, "duck_runner.py")
        with open(self.runner, "w") as f:
            f.write(DUCK_RUNNER)
        self.results = []

    def midgame(self, *args, capture=False):
        return timed([self.a.midgame, "-q", *args], env=self.env, capture=capture)

    def duck(self, statements, scalar=False):
        spec = os.path.join(self.work, "duck_spec.json")
        with open(spec, "w") as f:
            json.dump({"threads": self.a.threads, "statements": statements, "scalar": scalar}, f)
        wall, cpu, out = timed([sys.executable, self.runner, spec], capture=True)
        return wall, cpu, json.loads(out.strip().splitlines()[-1])["result"]

    def logs(self):
        logs = os.path.join(self.work, f"logs-{self.a.events}")
        if not os.path.isdir(os.path.join(logs, "okta")):
            users = max(8, -(-self.a.events // (17 * 30)))
            tmp = logs + ".tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            print(f"generating ~{self.a.events:,} events ({users} users, 30 days) in {logs}", flush=True)
            subprocess.run(
                [self.a.midgame, "gen", "--out", tmp, "--users", str(users), "--days", "30", "--seed", "1", "--attack"],
                check=True,
            )
            os.rename(tmp, logs)
        return logs

    def step(self, name, run_midgame, run_duck, unit_events):
        mg, dk = [], []
        mg_out = dk_out = None
        for _ in range(self.a.runs):
            w, c, mg_out = run_midgame()
            mg.append((w, c, PEAK_RSS.get("last", 0)))
            w, c, dk_out = run_duck()
            dk.append((w, c, PEAK_RSS.get("step_max", PEAK_RSS.get("last", 0))))
            PEAK_RSS.pop("step_max", None)
        med = lambda xs, i: statistics.median(x[i] for x in xs)
        r = {
            "step": name,
            "midgame_wall_s": med(mg, 0),
            "midgame_cpu_s": med(mg, 1),
            "midgame_peak_rss_mib": max(x[2] for x in mg),
            "duckdb_wall_s": med(dk, 0),
            "duckdb_cpu_s": med(dk, 1),
            "duckdb_peak_rss_mib": max(x[2] for x in dk),
            "ratio": med(dk, 0) / med(mg, 0),
            "midgame_result": mg_out,
            "duckdb_result": dk_out,
            "events": unit_events,
        }
        self.results.append(r)
        print(
            f"{name:<34} {r['midgame_wall_s']:8.2f} ({r['midgame_cpu_s']:6.2f}) "
            f"{r['duckdb_wall_s']:8.2f} ({r['duckdb_cpu_s']:6.2f}) {r['ratio']:7.2f}x "
            f"{r['midgame_peak_rss_mib']:7.0f} {r['duckdb_peak_rss_mib']:7.0f}   {mg_out} / {dk_out}",
            flush=True,
        )

    def ingest_steps(self, logs):
        scratch = os.path.join(self.work, "scratch")
        okta = os.path.join(logs, "okta")
        admin = os.path.join(logs, "admin")

        def mg(source, path, raw):
            def go():
                shutil.rmtree(scratch, ignore_errors=True)
                w, c, _ = self.midgame("ingest", "--lake", scratch, "--source", source, "--raw", raw, path)
                rows = 0
                for e in os.listdir(os.path.join(scratch, "_manifest")):
                    if e.endswith(".json"):
                        m = json.load(open(os.path.join(scratch, "_manifest", e)))
                        rows += m["auth_rows"] + m["admin_rows"]
                return w, c, rows

            return go

        def dk(select, cols, path):
            def go():
                out = os.path.join(self.work, "duck.parquet")
                if os.path.exists(out):
                    os.remove(out)
                src = f"read_json('{path}/*.ndjson', format = 'newline_delimited', filename = true"
                src += f", columns = {duck_columns(cols)})" if cols else ")"
                sel = select if cols else "*"
                return self.duck(
                    [
                        f"COPY (SELECT {sel} FROM {src}) TO '{out}' (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 3)",
                        f"SELECT count(*) FROM read_parquet('{out}')",
                    ],
                    scalar=True,
                )

            return go

        self.step("ingest okta: detection columns", mg("okta", okta, "none"), dk(OKTA_SELECT, OKTA_COLUMNS, okta), None)
        self.step("ingest okta: every field", mg("okta", okta, "full"), dk(None, None, okta), None)
        self.step("ingest admin: detection columns", mg("admin-audit", admin, "none"), dk(ADMIN_SELECT, ADMIN_COLUMNS, admin), None)

    def detection_steps(self, logs):
        lake = os.path.join(self.work, f"lake-{self.a.events}" + ("" if self.a.layout == "clustered" else "-daily"))
        if not os.path.isdir(os.path.join(lake, "_manifest")):
            tmp = lake + ".tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            subprocess.run([self.a.midgame, "-q", "ingest", "--lake", tmp, "--raw", "none", logs], check=True, env=self.env)
            if self.a.layout == "clustered":
                w, c, _ = timed([self.a.midgame, "-q", "compact", "--lake", tmp], env=self.env)
                print(f"{'cluster the lake (midgame compact)':<34} {w:8.2f} ({c:6.2f})  peak RSS {PEAK_RSS['last']:.0f} MiB", flush=True)
                self.results.append({"step": "cluster the lake", "midgame_wall_s": w, "midgame_cpu_s": c,
                                     "midgame_peak_rss_mib": PEAK_RSS["last"]})
            os.rename(tmp, lake)
        _, _, views_json = self.midgame(
            "sql", "--lake", lake, "--format", "ndjson",
            "SELECT table_name, definition FROM information_schema.views WHERE table_schema = 'public'",
            capture=True,
        )
        # The views' own CREATE statements, as midgame registers them.
        order = ["signins", "signin_history", "user_first_seen"]
        # The detections' shared views (not the OCSF ones, which only midgame serves).
        views = [
            v for v in (json.loads(l) for l in views_json.splitlines() if l.strip())
            if v.get("definition") and v["table_name"] in order
        ]
        views.sort(key=lambda v: order.index(v["table_name"]) if v["table_name"] in order else 99)
        setup = [
            f"CREATE VIEW auth AS SELECT * FROM read_parquet('{lake}/auth/*/*.parquet', hive_partitioning = true, hive_types_autocast = false)",
            f"CREATE VIEW admin AS SELECT * FROM read_parquet('{lake}/admin/*/*.parquet', hive_partitioning = true, hive_types_autocast = false)",
            "CREATE TABLE allowlisted_ip (ip VARCHAR)",
            # DataFusion's name for it (the SQL otherwise runs as it is).
            "CREATE MACRO regexp_like(s, p) AS regexp_matches(s, p)",
        ] + [v["definition"] for v in views]
        events = sum(
            json.load(open(os.path.join(lake, "_manifest", e)))["auth_rows"]
            + json.load(open(os.path.join(lake, "_manifest", e)))["admin_rows"]
            for e in os.listdir(os.path.join(lake, "_manifest"))
            if e.endswith(".json")
        )
        first = ["impossible_travel", "new_device_sso", "unusual_admin_access", "data_staging"]
        ids = sorted(
            (f[:-4] for f in os.listdir(self.a.queries) if f.endswith(".sql")),
            key=lambda i: (first.index(i) if i in first else 9, i),
        )
        bodies = {}
        for det in ids:
            text = open(os.path.join(self.a.queries, det + ".sql")).read()
            params = dict(re.findall(r"^-- param (\w+): ('(?:[^']|'')*'|\S+)", text, re.M))
            body = "\n".join(l for l in text.splitlines() if not l.startswith("--"))
            for k in sorted(params, key=len, reverse=True):
                v = params[k]
                # midgame binds numbers as 64-bit; DuckDB's literals are 32-bit and
                # `30 * 86400000` overflows there.
                if re.fullmatch(r"-?\d+", v):
                    v = f"CAST({v} AS BIGINT)"
                elif re.fullmatch(r"-?\d*\.\d+", v):
                    v = f"CAST({v} AS DOUBLE)"
                elif not v.startswith("'"):
                    v = "'" + v.replace("'", "''") + "'"
                body = re.sub(r"\$" + k + r"\b", v, body)
            qdir = os.path.join(self.work, "q", det)
            os.makedirs(qdir, exist_ok=True)
            shutil.copy(os.path.join(self.a.queries, det + ".sql"), qdir)

            def mg():
                w, c, out = self.midgame("detect", "--lake", lake, "--no-builtin", "--queries", qdir, "--format", "ndjson", capture=True)
                return w, c, sum(1 for l in out.splitlines() if '"type":"alert"' in l)

            bodies[det] = body

            def dk(body=body):
                return self.duck(setup + [body])

            self.step(det, mg, dk, events)

        def mg_all():
            w, c, out = self.midgame("detect", "--lake", lake, "--no-builtin", "--queries", self.a.queries, "--format", "ndjson", capture=True)
            return w, c, sum(1 for l in out.splitlines() if '"type":"alert"' in l)

        def dk_all():
            wall = cpu = rows = 0
            peak = 0
            for body in bodies.values():
                w, c, n = self.duck(setup + [body])
                wall, cpu, rows = wall + w, cpu + c, rows + n
                peak = max(peak, PEAK_RSS["last"])
            PEAK_RSS["step_max"] = peak
            return wall, cpu, rows

        self.step("all detections in one run", mg_all, dk_all, events)
        return events

    def run(self):
        logs = self.logs()
        print(f"threads={self.a.threads} runs={self.a.runs} (medians); ratio = DuckDB wall / midgame wall")
        print(f"{'step':<34} {'midgame s (CPU)':>17} {'DuckDB s (CPU)':>17} {'ratio':>8} {'RSS MiB':>7} {'DuckDB':>7}   results midgame / DuckDB")
        if not self.a.skip_ingest:
            self.ingest_steps(logs)
        events = self.detection_steps(logs)
        out = os.path.join(self.work, f"peer-{self.a.events}.json")
        with open(out, "w") as f:
            json.dump({"events_in_lake": events, "threads": self.a.threads, "runs": self.a.runs, "steps": self.results}, f, indent=1)
        print(f"({events:,} events in the lake; results in {out})")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--midgame", required=True)
    p.add_argument("--queries", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--skip-ingest", action="store_true", help="only the detections")
    p.add_argument("--layout", choices=["clustered", "daily"], default="clustered",
                   help="clustered: `midgame compact` after ingest (the default layout); daily: as ingested")
    Peer(p.parse_args()).run()


if __name__ == "__main__":
    main()
