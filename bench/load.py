"""Load benchmark of the chat page: the real Gradio app in a subprocess, many gradio_client sessions at once.

Run: python -m bench.load [--questions 200] [--clients 20] [--max-seconds 900]

Starts `rag ui` on a free loopback port (offline extractive mode), waits for it, warms it up with one question per
client, then sends the questions (eval/gold.jsonl, in order, repeated if needed) from concurrent clients, each
its own session asking its share one after another. The server's resident memory is sampled from
/proc/<pid>/status throughout. Prints answered/errors, p50/p95 latency, peak RSS and RSS growth after warm-up,
stops the server and writes bench/results/load.json. Only loopback traffic; bounded in count and time.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import CancelledError
from pathlib import Path

from bench.stats import median, percentile
from eval.gold import load_gold

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "load.json"
ANSWER_PREFIX = '<div class="rag-answer">'   # a finished answer or refusal bubble (errors and notices differ)


def gold_questions(n: int) -> list[str]:
    """The first n gold questions, repeated in order if there are fewer."""
    qs = [i["user_input"] for i in load_gold()]
    return [qs[i % len(qs)] for i in range(n)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float | None:
    """Resident set size of a process in MiB, from /proc (None once it has gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None



class Sampler(threading.Thread):
    """Samples a process's RSS every `interval` seconds."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            rss = rss_mb(self.pid)
            if rss is not None:
                self.samples.append((time.monotonic(), rss))
            self.stop.wait(self.interval)

    def peak(self, since: float = 0.0) -> float:
        return max((r for t, r in self.samples if t >= since), default=float("nan"))

    def settled(self, seconds: float = 1.0) -> float:
        """Median RSS over `seconds` of quiet, sampled now."""
        end = time.monotonic() + seconds
        values = []
        while time.monotonic() < end:
            rss = rss_mb(self.pid)
            if rss is not None:
                values.append(rss)
            time.sleep(0.05)
        return median(values)


def start_server(port: int, index_dir: Path | None, log_path: Path) -> subprocess.Popen:
    """`rag ui` on 127.0.0.1:port, offline (no LLM), output to a log file."""
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", RAG_MODE="extractive",
               PYTHONUNBUFFERED="1")
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
        env.pop(var, None)
    if index_dir is not None:
        env["RAG_INDEX_DIR"] = str(index_dir)
    log = open(log_path, "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "rag", "ui", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_until_up(url: str, proc: subprocess.Popen, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode} before it was up")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 - loopback only
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"the server did not answer at {url} within {seconds:.0f} s")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


def _content(result) -> str:
    messages = result[0]
    content = messages[-1]["content"] if messages else ""
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def run(questions: int = 200, clients: int = 20, *, index_dir: Path | None = None, max_seconds: float = 900,
        per_question_timeout: float = 180, startup_seconds: float = 240, fresh_sessions: bool = False,
        log=print) -> dict:
    """Run the benchmark and return its figures (see the module docstring)."""
    from gradio_client import Client

    t_start = time.monotonic()
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log_path = Path(tempfile.mkstemp(prefix="rag-load-", suffix=".log")[1])
    proc = start_server(port, index_dir, log_path)
    sampler = Sampler(proc.pid)
    sampler.start()
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    answered = 0
    client_retries = 0
    timeline: list[tuple[int, float]] = []  # (questions done, server RSS MiB) every tenth of the run
    step = max(1, questions // 10)
    try:
        wait_until_up(url, proc, startup_seconds)
        log(f"server up at {url} (pid {proc.pid}) in {time.monotonic() - t_start:.1f} s")
        sessions = [Client(url, verbose=False) for _ in range(clients)]
        deadline = t_start + max_seconds

        def ask_one(session, question: str) -> tuple[float, str | None]:
            nonlocal client_retries
            t = time.monotonic()
            for attempt in range(2):
                try:
                    timeout = max(1.0, min(per_question_timeout, deadline - time.monotonic()))
                    if fresh_sessions:  # a new conversation for every question
                        session = Client(url, verbose=False)
                    out = _content(session.submit(question, 5, "auto", api_name="/ask").result(timeout=timeout))
                    break
                except CancelledError:
                    # gradio_client's per-session SSE reader occasionally drops a job (about 1 in 1,000 here,
                    # with nothing in the server log): asked once more, and counted.
                    if attempt:
                        return time.monotonic() - t, "CancelledError (twice) in gradio_client"
                    with lock:
                        client_retries += 1
                except Exception as e:  # noqa: BLE001 - every failure is counted, none stops the run
                    return time.monotonic() - t, f"{type(e).__name__}: {str(e)[:200]}"
            if not out.startswith(ANSWER_PREFIX):
                return time.monotonic() - t, f"not an answer: {out[:200]}"
            return time.monotonic() - t, None

        def in_parallel(work: list[list[str]], record: bool) -> None:
            nonlocal answered

            def worker(session, qs: list[str]) -> None:
                nonlocal answered
                for q in qs:
                    if time.monotonic() > deadline:
                        with lock:
                            errors.append("stopped: the time limit was reached")
                        continue
                    seconds, err = ask_one(session, q)
                    if record:
                        with lock:
                            latencies.append(seconds)
                            if err:
                                errors.append(err)
                            else:
                                answered += 1
                            done = len(latencies)
                            if done % step == 0 or done == questions:
                                timeline.append((done, round(rss_mb(proc.pid) or float("nan"), 1)))

            threads = [threading.Thread(target=worker, args=(s, qs), daemon=True) for s, qs in zip(sessions, work)]
            for th in threads:
                th.start()
            for th in threads:
                th.join(max(0.0, deadline - time.monotonic()) + per_question_timeout)

        # Warm-up: one question per session, all at once (loads the index and model, fills the thread pools).
        warm_qs = gold_questions(questions + clients)[questions:]
        in_parallel([[q] for q in warm_qs], record=False)
        rss_warm = sampler.settled(1.5)
        log(f"warmed up: {clients} questions, RSS {rss_warm:.0f} MiB")

        qs = gold_questions(questions)
        work = [qs[i::clients] for i in range(clients)]  # round-robin: each session asks its share in turn
        t_load = time.monotonic()
        in_parallel(work, record=True)
        load_seconds = time.monotonic() - t_load
        rss_end = sampler.settled(1.5)
        peak = sampler.peak()
        peak_load = sampler.peak(since=t_load)
    finally:
        sampler.stop.set()
        stop_server(proc)
    result = {
        "questions": questions, "clients": clients, "answered": answered, "errors": len(errors),
        "error_samples": errors[:5], "client_retries": client_retries,
        "latency_s": {"p50": round(percentile(latencies, 50), 3), "p95": round(percentile(latencies, 95), 3),
                      "max": round(max(latencies, default=float("nan")), 3)},
        "throughput_qps": round(answered / load_seconds, 2) if load_seconds else None,
        "load_seconds": round(load_seconds, 1),
        "rss_mb": {"after_warmup": round(rss_warm, 1), "after_load": round(rss_end, 1), "peak": round(peak, 1),
                   "peak_during_load": round(peak_load, 1)},
        "rss_growth_after_warmup": round((rss_end - rss_warm) / rss_warm, 4),
        "peak_growth_after_warmup": round((peak_load - rss_warm) / rss_warm, 4),
        "rss_timeline_mb": timeline,
        "total_seconds": round(time.monotonic() - t_start, 1),
        "server_log": str(log_path),
    }
    return result


def report(r: dict) -> str:
    return "\n".join([
        f"{r['questions']} questions from {r['clients']} concurrent clients in {r['load_seconds']} s "
        f"({r['throughput_qps']} answers/s)",
        f"  answered {r['answered']}, errors {r['errors']}" + (f" (e.g. {r['error_samples'][0]})" if r["errors"] else "")
        + (f"; {r['client_retries']} question(s) re-sent after a gradio_client CancelledError" if r["client_retries"] else ""),
        f"  latency p50 {r['latency_s']['p50']:.2f} s, p95 {r['latency_s']['p95']:.2f} s, max {r['latency_s']['max']:.2f} s",
        f"  server RSS after warm-up {r['rss_mb']['after_warmup']:.0f} MiB, after load {r['rss_mb']['after_load']:.0f} MiB "
        f"({r['rss_growth_after_warmup']:+.1%}), peak {r['rss_mb']['peak']:.0f} MiB "
        f"({r['peak_growth_after_warmup']:+.1%} over warm-up)",
    ])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    p.add_argument("--questions", type=int, default=200, help="questions to send (default 200)")
    p.add_argument("--clients", type=int, default=20, help="concurrent gradio_client sessions (default 20)")
    p.add_argument("--max-seconds", type=float, default=900, help="stop after this long, whatever is left (default 900)")
    p.add_argument("--index-dir", type=Path, default=None, help="index folder (default: RAG_INDEX_DIR or index/)")
    p.add_argument("--out", type=Path, default=RESULTS, help=f"JSON results (default {RESULTS.relative_to(ROOT)})")
    args = p.parse_args(argv)
    if args.questions < 1 or args.clients < 1:
        p.error("--questions and --clients must be at least 1")
    env = dict(os.environ, **({"RAG_INDEX_DIR": str(args.index_dir)} if args.index_dir else {}))
    subprocess.run([sys.executable, "-m", "rag", "build", "--quiet"], cwd=ROOT, env=env, check=True)  # no-op if fresh
    r = run(args.questions, args.clients, index_dir=args.index_dir, max_seconds=args.max_seconds)
    print(report(r))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(r, indent=2))
    print(f"wrote {args.out}")
    ok = r["answered"] == r["questions"] and r["errors"] == 0 and r["rss_growth_after_warmup"] < 0.10
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
