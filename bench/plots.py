"""PNG plots of the benchmark results (matplotlib, headless)."""
from __future__ import annotations

from pathlib import Path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: Path) -> Path:
    """Lay the figure out, write it as a PNG (making its folder) and close it."""
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_run(result: dict, path: Path) -> Path:
    """Three panels: warm ask() stages beside their floors; cold start; ours vs the llama-index peer."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8), gridspec_kw={"width_ratios": [2.2, 1, 1.3]})
    warm = result["warm"]
    s, f = warm["stages_ms"], warm["floor_ms"]
    names = ["embed", "dense", "bm25", "fusion", "answer", "total"]
    floors = {"embed": f["forward"]["p50"], "dense": f["flat_chunks"]["p50"], "total": warm["floor_total_p50_ms"]}
    ax = axes[0]
    x = range(len(names))
    ax.bar([i - 0.2 for i in x], [s[n]["p50"] for n in names], 0.4, label="p50", color="#4c72b0")
    ax.bar([i + 0.2 for i in x], [s[n]["p95"] for n in names], 0.4, label="p95", color="#9ab0d6")
    for i, n in enumerate(names):
        if n in floors:
            ax.hlines(floors[n], i - 0.42, i + 0.42, colors="#c44e52", linewidth=2.5,
                      label="floor p50" if n == "embed" else None)
    ax.set_yscale("log")
    ax.set_xticks(list(x), names)
    ax.set_ylabel("ms (log)")
    ax.set_title(f"Warm ask(), extractive: {warm['samples']} runs")
    ax.legend(fontsize=8)
    cold = result["cold"]
    ax = axes[1]
    labels = ["import rag", "first ask()", "new process\nto answer", "rag ask\nCLI"]
    vals = [cold["import_rag_s"], cold["first_ask_s"], cold["first_ask_process_s"], cold["cli_ask_s"]]
    ax.bar(labels, vals, color=["#55a868", "#4c72b0", "#64b5cd", "#8172b2"])
    for i, v in enumerate(vals):
        ax.text(i, v, f"{v:.2f} s", ha="center", va="bottom", fontsize=8)
    ax.axhline(8, color="#c44e52", linestyle="--", linewidth=1, label="first-answer target 8 s")
    ax.set_ylim(0, max(vals + [8]) * 1.3)
    ax.set_ylabel("seconds")
    ax.set_title("Cold start (median of fresh processes)")
    ax.legend(fontsize=8, loc="upper left")
    ax.tick_params(axis="x", labelsize=8)
    ax = axes[2]
    peer = result.get("peer")
    if peer and "error" not in peer:
        systems = ["ours", "llama-index\ndefaults"]
        lat = [warm["retrieval_with_embed_ms"]["p50"], peer["retrieve_ms"]["p50"]]
        ev = [warm["evidence_in_top5_retrieval"] * 100, peer["evidence_in_top5"] * 100]
        if peer.get("hybrid"):
            systems.append("ours inside\nllama-index")
            lat.append(peer["hybrid"]["retrieve_ms"]["p50"])
            ev.append(peer["hybrid"]["evidence_in_top5"] * 100)
        xs = list(range(len(systems)))
        ax.bar([x - 0.2 for x in xs], lat, 0.4, color="#4c72b0", label="retrieval p50 ms (with query embedding)")
        ax2 = ax.twinx()
        ax2.bar([x + 0.2 for x in xs], ev, 0.4, color="#dd8452", label="evidence in top 5 (%)")
        ax2.set_ylim(0, 160)
        ax2.set_yticks([0, 20, 40, 60, 80, 100])
        ax2.set_ylabel("evidence in top 5 (%)")
        ax.set_xticks(xs, systems)
        ax.set_ylabel("retrieval p50 (ms)")
        for i, (a, b) in enumerate(zip(lat, ev)):
            ax.text(i - 0.2, a, f"{a:.1f}", ha="center", va="bottom", fontsize=8)
            ax2.text(i + 0.2, b, f"{b:.0f}%", ha="center", va="bottom", fontsize=8)
        ax.set_ylim(0, max(lat) * 1.6)
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="upper center", ncol=1, framealpha=0.9)
        ax.set_title("Peer on the same gold questions")
    else:
        ax.text(0.5, 0.5, "peer not measured", ha="center", va="center")
        ax.set_axis_off()
    load = result.get("load_avg_start")
    if load:
        fig.suptitle(f"2-core machine, load average at start {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}", fontsize=9)
    return _save(plt, fig, path)


def plot_scale(result: dict, path: Path) -> Path:
    """Two panels: query p50 against collection size per index; IVF recall@10 against latency per nprobe."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    rows = result["rows"]
    ax = axes[0]
    styles = {"flat": ("exact IndexFlatIP", "#c44e52"), "ivf": ("IVF-Flat", "#4c72b0"),
              "hnsw": ("HNSW-Flat", "#55a868"), "bm25": ("BM25 (bm25s)", "#8172b2")}
    for kind, (label, color) in styles.items():
        pts = sorted((r["n"], r["latency_ms"]["p50"], r["latency_ms"]["p95"]) for r in rows if r["kind"] == kind)
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color=color, label=f"{label} p50")
            ax.plot([p[0] for p in pts], [p[2] for p in pts], ":", color=color, alpha=0.6)
    ax.axhline(20, color="grey", linestyle="--", linewidth=1, label="target p50 20 ms")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("chunks")
    ax.set_ylabel("single query, ms (dotted: p95)")
    ax.set_title("Query latency vs collection size (one thread)")
    ax.legend(fontsize=8)
    ax = axes[1]
    for r in rows:
        if r["kind"] in ("ivf", "hnsw") and r.get("sweep"):
            xs = [s["latency_ms"]["p50"] for s in r["sweep"]]
            ys = [s["recall_at_10"] for s in r["sweep"]]
            ax.plot(xs, ys, "o-", label=f"{r['kind']} {r['n']:,}")
            for s_, x_, y_ in zip(r["sweep"], xs, ys):
                ax.annotate(str(s_["param"]), (x_, y_), fontsize=6, xytext=(2, -8), textcoords="offset points")
    ax.axhline(0.95, color="grey", linestyle="--", linewidth=1, label="target recall 0.95")
    ax.set_xscale("log")
    ax.set_xlabel("p50 ms")
    ax.set_ylabel("recall@10 vs exact")
    ax.set_title("Approximate search: recall vs latency (labels: nprobe / efSearch)")
    ax.legend(fontsize=7)
    return _save(plt, fig, path)


def plot_growth(result: dict, path: Path) -> Path:
    """Four panels against the folder's chunk count: build time, peak memory, index size and warm ask() p50."""
    plt = _pyplot()
    rows = sorted(result["rows"], key=lambda r: r["chunks"])
    panels = [("build_s", "build, s"), ("peak_rss_mb", "peak RSS, MB"), ("index_mb", "index on disk, MB"),
              ("ask_p50_ms", "warm ask() p50, ms")]
    fig, axes = plt.subplots(1, len(panels), figsize=(15, 3.8))
    xs = [r["chunks"] for r in rows]
    for ax, (key, label) in zip(axes, panels):
        ax.plot(xs, [r[key] for r in rows], "o-", color="#4c72b0")
        for r in rows:
            ax.annotate(f"{Path(r['folder']).name} ({r['plan']})", (r["chunks"], r[key]), fontsize=7,
                        xytext=(3, 4), textcoords="offset points")
        ax.set_xscale("log")
        if key == "build_s":  # a minute to half an hour: the plan and the embedding cache decide it, not the size
            ax.set_yscale("log")
        ax.set_xlabel("chunks")
        ax.set_title(label, fontsize=10)
    fig.suptitle("Growth with the corpus (one process per folder, cold embedding cache)", fontsize=10)
    return _save(plt, fig, path)
