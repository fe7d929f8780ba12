"""How soon the chat page serves its first answer after `rag ui` starts, per embedding runtime.

Starts `rag ui` on a free loopback port, polls until the page answers HTTP, then asks one question through the
page's `/ask` API (gradio_client) and waits for the final answer. Reports seconds from process start to the page
being up and to the first answer, medians over fresh servers. Needs an index per runtime (RAG_INDEX_DIR).

    python -m bench.ui_start --index-torch DIR --index-onnx DIR [--runs 3]

Prints a table; writes bench/results/ui_start.json.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.core import ROOT, write_result
from bench.stats import median
from eval.tables import format_table

QUESTION = "What does OPKV do?"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def first_answer(env: dict, timeout: float = 300) -> dict:
    """Seconds from `rag ui` starting to its page being up and to its first answer to QUESTION."""
    from gradio_client import Client

    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(Path(sys.executable).with_name("rag")), "ui", "--port", str(port)], cwd=ROOT,
                            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"rag ui exited with {proc.returncode}")
            try:
                urllib.request.urlopen(url, timeout=2).read(1)
                break
            except OSError:
                if time.perf_counter() - t0 > timeout:
                    raise
                time.sleep(0.05)
        up = time.perf_counter() - t0
        client = Client(url, verbose=False)
        connected = time.perf_counter() - t0
        result = client.predict(QUESTION, 5, "extractive", api_name="/ask")
        answered = time.perf_counter() - t0
        return {"page_up_s": up, "client_ready_s": connected, "first_answer_s": answered,
                "answer_after_up_s": answered - up, "ask_s": answered - connected, "cited": "[1]" in str(result)}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    """Measure each runtime's chat-page start-up and print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index-torch", type=Path)
    ap.add_argument("--index-onnx", type=Path)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    out: dict = {}
    for runtime, index in (("torch", args.index_torch), ("onnx", args.index_onnx)):
        if index is None:
            continue
        env = {"RAG_INDEX_DIR": str(index), "RAG_EMBED_RUNTIME": runtime, "RAG_EMBED_PRECISION": "fp32",
               "RAG_MODE": "extractive", "OPENAI_BASE_URL": "", "OPENAI_API_KEY": "", "NO_PROXY": "127.0.0.1"}
        runs = [first_answer(env) for _ in range(args.runs)]
        out[runtime] = {k: median([r[k] for r in runs])
                        for k in ("page_up_s", "client_ready_s", "first_answer_s", "answer_after_up_s", "ask_s")}
        out[runtime].update(runs=runs, load_avg=os.getloadavg()[0])
    keys = ("page_up_s", "first_answer_s", "answer_after_up_s", "ask_s", "load_avg")
    rows = [[k, *(v[x] for x in keys)] for k, v in out.items()]
    print(format_table(["runtime", "page up s", "first answer s", "answer after page up s", "of which /ask s",
                        "load"], rows, "rag ui: first answer (seconds from process start)"))
    write_result("ui_start.json", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
