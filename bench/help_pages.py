"""Benchmark of the help center's pages (handoff/help_center.py) as a browser gets them.

One handoff service as deployed (gunicorn, one gevent worker, SQLite, handoff/gunicorn.conf.py) on
the loopback, its search index warm; then, one request at a time over a kept-alive connection, after
a warm-up: GET every article page in turn (both languages; each records a view, as a customer's
does), the category pages, the home page (its most-read query included) and a search results page,
with two peers in the same run: GET /healthz (the service's cheapest answer) and GET /demo (a
template page with no database work). p50 / p95 / max in milliseconds, client side, whole response
read. Then the article pages again with 4 clients at once (the machine has 2 cores). The first view
of each article after a start or a publish is reported apart ("article, 1st view"): it computes
the article's related articles, which are then kept (handoff/help_center._related).

    .venv/handoff/bin/python bench/help_pages.py [--requests 600] [--keep]

Writes bench/results/help_pages.json and prints a table.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handoff.cli import migrate  # noqa: E402
from handoff.content_files import PROJECT_ROOT, ContentFiles  # noqa: E402
from handoff.help_articles import read_articles  # noqa: E402
from tests.support.ports import free_port  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "help_pages.json"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * p // 100)))
    return ordered[int(rank) - 1]


def figures(name: str, times: list[float], clients: int = 1) -> dict:
    return {"page": name, "clients": clients, "requests": len(times),
            "p50_ms": round(percentile(times, 50), 2), "p95_ms": round(percentile(times, 95), 2),
            "max_ms": round(max(times), 2)}


def timed(session: requests.Session, url: str) -> float:
    started = time.perf_counter()
    response = session.get(url, timeout=30)
    _ = response.content
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{url}: HTTP {response.status_code}")
    return elapsed


def sequential(base: str, paths: list[str], count: int, warmup: int = 50) -> tuple[list[float], list[float]]:
    """(the timings, and those of the warm-up: every path once first, then up to `warmup` requests)."""
    session = requests.Session()
    first = [timed(session, base + path) for path in paths]
    for n in range(max(0, warmup - len(paths))):
        timed(session, base + paths[n % len(paths)])
    return [timed(session, base + paths[n % len(paths)]) for n in range(count)], first


def concurrent(base: str, paths: list[str], count: int, clients: int) -> list[float]:
    times: list[float] = []
    lock = threading.Lock()

    def client(offset: int) -> None:
        session = requests.Session()
        mine = [timed(session, base + paths[(offset + n) % len(paths)]) for n in range(count // clients)]
        with lock:
            times.extend(mine)

    threads = [threading.Thread(target=client, args=(n * 7,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times


def start_service(workdir: Path) -> tuple[subprocess.Popen, str]:
    database = workdir / "handoff.sqlite3"
    migrate(f"sqlite:///{database}")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "RASA_"))}
    env.update({"DATABASE_URL": f"sqlite:///{database}", "SECRET_KEY": "bench-secret", "HANDOFF_BIND": f"127.0.0.1:{port}",
                "WEB_CONCURRENCY": "1", "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT),
                # the pages' own work is measured, not the rate limiter's refusals
                "RATE_LIMIT_HELP_SEARCH_PER_IP": "1000000/minute"})
    gunicorn = Path(sys.executable).parent / "gunicorn"
    process = subprocess.Popen([str(gunicorn), "-c", "handoff/gunicorn.conf.py", "handoff:create_app()"], cwd=ROOT,
                               env=env, stdout=open(workdir / "service.log", "w"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/healthz", timeout=30).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.2)
    else:
        raise RuntimeError((workdir / "service.log").read_text())
    # The steady state: the search's embeddings computed (in the background since the start).
    deadline = time.monotonic() + 600
    while requests.get(base + "/api/v1/help/search?q=x&record=false", timeout=120).json().get("warming"):
        if time.monotonic() > deadline:
            raise RuntimeError("the search index did not warm up in 10 minutes")
        time.sleep(1)
    return process, base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600, help="requests per page kind")
    parser.add_argument("--keep", action="store_true", help="keep the service's folder")
    args = parser.parse_args()

    articles = read_articles(ContentFiles(PROJECT_ROOT))
    article_paths = [f"{prefix}{a.url}" for a in articles.all() for prefix in ("", "/en")]
    kinds = {
        "article page": article_paths,
        "category page": [f"{prefix}/help/{c.id}" for c in articles.categories() for prefix in ("", "/en")],
        "home page": ["/help", "/en/help"],
        "search page": [f"/help/search?q={quote('荷物が届かない')}", "/en/help/search?q=" + quote("can I pay later")],
        "peer: /healthz": ["/healthz"],
        "peer: /demo": ["/demo"],
    }
    workdir = Path(tempfile.mkdtemp(prefix="help-pages-bench-"))
    process, base = start_service(workdir)
    rows = []
    try:
        for name, paths in kinds.items():
            count = args.requests if name != "search page" else max(100, args.requests // 3)
            times, first = sequential(base, paths, count)
            if name == "article page":  # each article's first view computes its related articles
                rows.append(figures("article, 1st view", first))
            rows.append(figures(name, times))
        rows.append(figures("article page", concurrent(base, article_paths, args.requests, 4), clients=4))
        rows.append(figures("peer: /healthz", concurrent(base, ["/healthz"], args.requests, 4), clients=4))
    finally:
        process.terminate()
        process.wait(10)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    result = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
              "service": "gunicorn, 1 gevent worker, SQLite (WAL), search index warm",
              "articles": len(articles.all()), "target_article_p95_ms": 20, "rows": rows}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"{'page':<18} {'clients':>7} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for row in rows:
        print(f"{row['page']:<18} {row['clients']:>7} {row['requests']:>8} {row['p50_ms']:>8} {row['p95_ms']:>8} {row['max_ms']:>8}")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
