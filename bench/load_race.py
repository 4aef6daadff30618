"""`python -m bench.load_race`: concurrent first requests on a freshly built app (Dash's lazy setup race).

Default (in-process): each round, a fresh Python process builds the app as a gunicorn worker does (`app.server`,
demo provider, temporary DATA_DIR) and fires `--clients` first requests at it from as many threads through
Flask's test client, with sys.setswitchinterval(1e-6) so the threads interleave finely. `--warm` first makes the
requests gunicorn.conf.py's post_worker_init makes. Each round reports the statuses and how many callbacks each
`/_dash-dependencies` answer listed (a complete graph has them all; one built mid-setup lacks most).

`--gunicorn`: starts gunicorn (one worker, 8 threads; `--config`, default the repository's gunicorn.conf.py)
and, before the worker has booted, opens `--clients` connections that each send one first request (`/`, `/_dash-layout`,
`/_dash-dependencies`, `/healthz`, `/api/portfolios` in turn): they wait in the listen backlog and reach the
worker's threads together. Repeated `--rounds` times (a fresh gunicorn each); prints the statuses seen and the
errors in gunicorn's log. GUNICORN_WARM_WORKER=0 (`--no-warm`) turns the post_worker_init warm-up off.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from bench.load import ROOT, Gunicorn

PATHS = ("/_dash-dependencies", "/_dash-layout", "/", "/healthz", "/api/portfolios")


def one_round(config: Path, clients: int, warm: bool) -> tuple[collections.Counter, list[str]]:
    server = Gunicorn(config, ["--workers=1", "--threads=8"],
                      env={"WARMUP_ENABLED": "0", "GUNICORN_WARM_WORKER": "1" if warm else "0"})
    statuses: collections.Counter = collections.Counter()
    go = threading.Barrier(clients)

    def client(index: int) -> None:
        path = PATHS[index % len(PATHS)]
        go.wait()
        for _ in range(200):  # the master may not be listening yet
            try:
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
                conn.request("GET", path)
                statuses[(path, conn.getresponse().status)] += 1
                conn.close()
                return
            except ConnectionRefusedError:
                threading.Event().wait(0.02)
            except (OSError, http.client.HTTPException) as error:
                statuses[(path, type(error).__name__)] += 1
                return

    try:
        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        log = server.log_text()
    finally:
        server.stop()
    errors = [line for line in log.splitlines()
              if re.search(r"Error|error|Exception|changed size", line) and "Traceback" not in line]
    return statuses, errors


def child(clients: int, warm: bool) -> None:
    """One in-process round (run in a fresh interpreter): prints a JSON line of what the threads saw."""
    os.environ.update(HOST="127.0.0.1", PRICE_PROVIDER="demo", WARMUP_ENABLED="0",
                      DATA_DIR=tempfile.mkdtemp(prefix="bench-race-"))
    sys.setswitchinterval(1e-6)
    import app  # after the environment is set, as in a worker

    server = app.server
    server.config["PROPAGATE_EXCEPTIONS"] = False  # an exception becomes the 500 a worker would send
    if warm:
        warm_client = server.test_client()
        for path in ("/healthz", "/", "/_dash-layout", "/_dash-dependencies", "/api/portfolios"):
            warm_client.get(path, headers={"Host": "localhost"})
    statuses: collections.Counter = collections.Counter()
    callbacks: list[int] = []
    go = threading.Barrier(clients)

    def run(index: int) -> None:
        test_client = server.test_client()
        path = PATHS[index % len(PATHS)]
        go.wait()
        response = test_client.get(path, headers={"Host": "localhost"})
        statuses[f"{path} {response.status_code}"] += 1
        if path == "/_dash-dependencies" and response.status_code == 200:
            callbacks.append(len(response.get_json()))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    complete = len(server.test_client().get("/_dash-dependencies", headers={"Host": "localhost"}).get_json())
    print(json.dumps({"statuses": statuses, "callbacks": callbacks, "complete": complete}))


def in_process(args: argparse.Namespace) -> int:
    bad_rounds = 0
    for index in range(args.rounds):
        finished = subprocess.run(
            [sys.executable, "-m", "bench.load_race", "--child", f"--clients={args.clients}",
             *(["--warm"] if args.warm else [])], cwd=ROOT, capture_output=True, text=True, timeout=300)
        lines = [line for line in finished.stdout.splitlines() if line.startswith("{")]
        if not lines:
            print(f"round {index + 1}: no result\n{finished.stderr[-2000:]}")
            bad_rounds += 1
            continue
        seen = json.loads(lines[-1])
        errors = {key: n for key, n in seen["statuses"].items() if not key.endswith(" 200")}
        partial = [n for n in seen["callbacks"] if n != seen["complete"]]
        reasons = sorted(set(re.findall(r"RuntimeError: .*|KeyError: .*", finished.stderr)))
        bad_rounds += bool(errors or partial)
        print(f"round {index + 1}: not 200: {errors or 'none'}; /_dash-dependencies with {partial or 'no'} of "
              f"{seen['complete']} callbacks{'; ' + '; '.join(reasons) if reasons else ''}", flush=True)
    print(f"{bad_rounds} of {args.rounds} rounds saw a 500 or an incomplete callback graph "
          f"({'warmed first' if args.warm else 'not warmed'})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(ROOT / "gunicorn.conf.py"))
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-warm", action="store_true", help="with --gunicorn: GUNICORN_WARM_WORKER=0")
    parser.add_argument("--gunicorn", action="store_true", help="over HTTP, to a freshly started gunicorn")
    parser.add_argument("--warm", action="store_true", help="in-process: warm as post_worker_init does first")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.clients, args.warm)
        return 0
    if not args.gunicorn:
        return in_process(args)
    total: collections.Counter = collections.Counter()
    failed_rounds = 0
    for index in range(args.rounds):
        statuses, errors = one_round(Path(args.config), args.clients, not args.no_warm)
        total.update(statuses)
        bad = {key: n for key, n in statuses.items() if key[1] != 200}
        failed_rounds += bool(bad)
        print(f"round {index + 1}: {'not 200: ' + str(bad) if bad else 'all 200'}", flush=True)
        for line in errors[:6]:
            print(f"    {line[:200]}")
    print(f"{failed_rounds} of {args.rounds} rounds had an answer other than 200; totals: {dict(total)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
