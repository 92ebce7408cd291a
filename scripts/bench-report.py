#!/usr/bin/env python3
"""Writes docs/performance.md and its plots from one scripts/bench run's results."""
import glob
import json
import os
import platform
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

results, docs, quick = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
plots = os.path.join(docs, "performance")
os.makedirs(plots, exist_ok=True)


def load(label):
    path = os.path.join(results, f"{label}.json")
    return json.load(open(path)) if os.path.exists(path) else None


def rss(label):
    """Peak resident memory (KiB) of audio and gateway during a run."""
    path = os.path.join(results, f"{label}.rss")
    rows = [list(map(int, line.split())) for line in open(path) if len(line.split()) == 3] if os.path.exists(path) else []
    return rows, (max((r[1] for r in rows), default=0), max((r[2] for r in rows), default=0))


def machine(label, report):
    """How busy the whole machine was during a run, and the hypervisor's share (steal): while
    the sessions ran, as the load generator measured it (`report`), or (results from before it
    did) over the whole run, the file checks included, as the bench measured it."""
    cpu = report.get("machine_cpu_during_sessions") or load(f"{label}.cpu")
    return f"{cpu['user'] + cpu['system']:.0f} / {cpu['steal']:.0f}" if cpu else "-"


def text(name):
    path = os.path.join(results, name)
    return open(path).read().strip() if os.path.exists(path) else "(not measured)"


def first_touch():
    """The first-touch bench's figures, as sentences for the machine paragraph."""
    output = text("first-touch.txt")
    touched = re.search(r"touching ([0-9]+) GiB", output)
    found = re.search(r"first touch: ([0-9.]+) to ([0-9.]+) us a page; the first ([0-9]+) MiB", output)
    if not (touched and found):
        return "not measured in this run."
    cheapest, dearest, cheap_mib = float(found[1]), float(found[2]), int(found[3])
    # The bench decides what counts as cheap; all of it cheap means there was no dearer part.
    if cheap_mib == int(touched[1]) * 1024:
        return f"{cheapest:.2f} to {dearest:.2f} us a page throughout, with no dearer part."
    return (f"the first {cheap_mib:,} MiB cost {cheapest:.2f} us a page, memory past that up to {dearest:.2f} us "
            f"({dearest / cheapest:.1f}x). Every recorded byte lands in the page cache, about 24,000 pages a second "
            "at 5,000 sessions. On tmpfs they stay there, so once the cheap part is used the audio service pays the "
            "dearer price on each; on disk the service drops what is 20 s old from the cache "
            "(`AUDIO_CACHE_TRIM_AFTER_MS`), so that the cache reuses memory instead of growing.")


def peak_over_first(path, column):
    """Peak minus first sample of one column of a resident-memory file (KiB): what a run added
    to a process that was already up."""
    rows = [list(map(int, line.split())) for line in open(path) if len(line.split()) > column] if os.path.exists(path) else []
    return (max(r[column] for r in rows) - rows[0][column], rows[0][column], max(r[column] for r in rows)) if rows else None


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
cores = os.cpu_count()
memory = next((int(l.split()[1]) // 1024 // 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
idle = json.load(open(os.path.join(results, "rss-idle.json")))
peers = ("direct", "gateway", "gateway-tcp", "nginx", "spring-cloud-gateway")
names = {"direct": "straight to audio", "gateway": "our gateway (Unix socket to audio)", "gateway-tcp": "our gateway (TCP to audio)",
         "nginx": "nginx (Unix socket)", "spring-cloud-gateway": "Spring Cloud Gateway (TCP)"}

lines = ["# Performance", ""]
if quick:
    lines += ["> These figures come from a short smoke run (`BENCH_QUICK=1`), not the full benchmark.", ""]
lines += [
    f"One run of `bash scripts/bench` (about 45 minutes) on {cores} cores ({cpu}), {memory} GiB, Linux. The load "
    "generator (`loadgen`), the registry, the gateway, the audio service and the peers (nginx, Spring Cloud Gateway) "
    "share those cores, so read the ratios measured in one run; absolute figures are this machine's. "
    "What each figure costs inside the services, and the benches run by hand (storage on PostgreSQL + S3, users' "
    "tokens, profiles), is in [performance/analysis.md](performance/analysis.md).",
    "",
    "A session sends a 5,000-byte chunk every 250 ms (what a browser's MediaRecorder sends) and checks every ack; at "
    "the end the stored file must hold exactly the bytes sent. Fresh memory on this machine (measured first, idle): "
    f"{first_touch()}",
]

# Each saturation run by (path, round).
saturation_runs = {}
for path in sorted(glob.glob(os.path.join(results, "saturation-*-*.json"))):
    name = os.path.basename(path)[len("saturation-"):-len(".json")]
    label, _, round_ = name.rpartition("-")
    if label in peers and round_.isdigit() and (r := load(f"saturation-{name}")):
        saturation_runs[(label, int(round_))] = r
saturation_rounds = sorted({round_ for _, round_ in saturation_runs})


def saturation_ratios(a, b):
    """a's chunks/s over b's in each round both ran."""
    return [saturation_runs[(a, round_)]["chunks_per_s"] / max(saturation_runs[(b, round_)]["chunks_per_s"], 1)
            for round_ in saturation_rounds if (a, round_) in saturation_runs and (b, round_) in saturation_runs]


compare = {label: r for label in peers if (r := load(label))}


def per_session(label):
    """KiB a browser-rate session added to the proxy of `label` (peak minus the first sample of
    the run, over the sessions), with its resident memory before and at the peak."""
    if label == "gateway":
        found = peak_over_first(os.path.join(results, "gateway.rss"), 2)
    else:
        found = peak_over_first(os.path.join(results, f"{label}.peer.rss"), 1)
    if not found or label not in compare:
        return None
    added, before, peak = found
    return added / compare[label]["sessions_requested"], before, peak


# Scale steps.
scale = {"binary": [], "json": [], "tmpfs": []}
for frames, pattern in (("binary", "scale-binary"), ("json", "scale-json"), ("tmpfs", "tmpfs-binary")):
    paths = [p for p in glob.glob(os.path.join(results, f"{pattern}-*.json")) if not p.endswith((".idle.json", ".cpu.json"))]
    for path in sorted(paths, key=lambda p: int(p.rsplit("-", 1)[1][:-5])):
        label = os.path.basename(path)[:-5]
        r = json.load(open(path))
        _, (audio_peak, gateway_peak) = rss(label)
        base = load(f"{label}.idle") or idle
        cost = ((audio_peak - base["audio_kib"]) + (gateway_peak - base["gateway_kib"])) / max(r["sessions_requested"], 1)
        scale[frames].append((r["sessions_requested"], r, audio_peak, gateway_peak, cost, label))


def held(r):
    return (r["ack_latency_ms_p99"] < 100 and r["chunks_lost"] == 0 and r["files_corrupted"] == 0
            and r["sessions_completed"] == r["sessions_requested"])


best = {frames: max([n for n, r, *_ in rows if held(r)], default=0) for frames, rows in scale.items()}
costs = [cost for rows in scale.values() for n, r, a, g, cost, _ in rows if held(r) and a]

# Against the targets.
g, d, n, s = (compare.get(k) for k in ("gateway", "direct", "nginx", "spring-cloud-gateway"))
lines += ["", "## Against the targets", "", "| target | measured | met |", "|---|---|---|"]
lines.append(f"| 5,000 sessions through the gateway, p99 < 100 ms, nothing lost | largest step held: {best['binary']} (disk), "
             f"{best['json']} (JSON frames), {best['tmpfs']} (tmpfs) | {'yes' if best['binary'] >= 5000 else 'no'} |")


def throughput_target(name, other, at_least):
    """Met if the gateway keeps the other's pace at the browser's rate and the median of its
    saturation rounds is at least `at_least` of the other's."""
    rounds = saturation_ratios("gateway", other)
    if not (g and other in compare and rounds):
        return
    browser = g["chunks_per_s"] / max(compare[other]["chunks_per_s"], 1)
    lines.append(f"| {name} | saturation: median **{median(rounds):.2f}** over {len(rounds)} rounds ({min(rounds):.2f} to "
                 f"{max(rounds):.2f}); browser rate: {browser:.2f}, p99 {g['ack_latency_ms_p99']:.2f} vs "
                 f"{compare[other]['ack_latency_ms_p99']:.2f} ms | {'yes' if min(median(rounds), browser) >= at_least else 'no'} |")


throughput_target("gateway carries >= 0.8 x direct", "direct", 0.8)
throughput_target("gateway at least as fast as nginx", "nginx", 1.0)
throughput_target("gateway at least as fast as Spring Cloud Gateway", "spring-cloud-gateway", 1.0)
if costs:
    lines.append(f"| under 64 KiB resident per live session (gateway + audio) | up to {max(costs):.1f} KiB at the steps that held | "
                 f"{'yes' if max(costs) < 64 else 'no'} |")
if any(line.endswith("| no |") for line in lines):
    lines += ["", "A target missed in this run: [performance/analysis.md](performance/analysis.md#the-targets-on-this-host) "
              "says what is known about it."]

# The peers.
if compare:
    lines += ["", "## Against the peers", "",
              f"Every path proxies to the same audio instance. At the browser's rate ({compare[next(iter(compare))]['sessions_requested']} "
              f"sessions for {compare[next(iter(compare))]['duration_s']} s) each path must keep the pace, and latency and memory "
              "are where they differ; memory per session is the proxy's peak resident memory during the run minus its "
              "resident memory when the run began, over the sessions. A JVM's resident memory is mostly its heap, which "
              "the warm-up load already grew, so for Spring Cloud Gateway the per-session figure is what the heap had to "
              "grow by, and its resident memory before and at the peak is the figure to compare.", "",
              "| path | completed | chunks/s | ack p50 ms | ack p99 ms | max ms | lost | proxy RSS MiB before / peak | KiB per session |",
              "|---|---|---|---|---|---|---|---|---|"]
    for label, r in compare.items():
        mem = per_session(label)
        memory_cells = f"{mem[1] / 1024:.0f} / {mem[2] / 1024:.0f} | {mem[0]:.1f}" if mem else "- | -"
        lines.append(f"| {names[label]} | {r['sessions_completed']}/{r['sessions_requested']} | {r['chunks_per_s']:.0f} | "
                     f"{r['ack_latency_ms_p50']:.2f} | {r['ack_latency_ms_p99']:.2f} | {r['ack_latency_ms_max']:.1f} | "
                     f"{r['chunks_lost']} | {memory_cells} |")
if saturation_runs:
    seconds = next(iter(saturation_runs.values()))["duration_s"]
    sessions = next(iter(saturation_runs.values()))["sessions_requested"]
    lines += ["", f"At saturation each of {sessions} sessions sends its next chunk as soon as the last is acknowledged, so "
              f"chunks/s is what a path carries on the cores it shares with the load generator. {len(saturation_rounds)} rounds of "
              f"{seconds} s, the paths interleaved and their order reversed every other round; ratios are taken round by round "
              "(one path varies by a quarter between runs here) and judged on their median. Spring Cloud Gateway is measured warm "
              "(a 20 s load before, not scored). Every round: [performance/saturation-rounds.md](performance/saturation-rounds.md).", "",
              "| path | median chunks/s | range | median ack p99 ms | lost | median of its ratios to direct |", "|---|---|---|---|---|---|"]
    for label in peers:
        runs = [r for (l, _), r in saturation_runs.items() if l == label]
        if not runs:
            continue
        ratio = f"{median(saturation_ratios(label, 'direct')):.2f}" if label != "direct" else "1"
        lines.append(f"| {names[label]} | {median([r['chunks_per_s'] for r in runs]):,.0f} | {min(r['chunks_per_s'] for r in runs):,.0f} to "
                     f"{max(r['chunks_per_s'] for r in runs):,.0f} | {median([r['ack_latency_ms_p99'] for r in runs]):.2f} | "
                     f"{sum(r['chunks_lost'] for r in runs)} | {ratio} |")
    lines.append("")
    for other in ("nginx", "spring-cloud-gateway"):
        if (rounds := saturation_ratios("gateway", other)):
            lines.append(f"- Our gateway / {names[other]}: median **{median(rounds):.2f}**, round by round "
                         + ", ".join(f"{x:.2f}" for x in rounds) + ".")
    if (rounds := saturation_ratios("gateway-tcp", "spring-cloud-gateway")):
        lines.append(f"- Both over TCP, our gateway / Spring Cloud Gateway: median **{median(rounds):.2f}**.")
    rounds_md = ["# Saturation, every round", "", "Written by `scripts/bench-report.py` with [the report](../performance.md).", "",
                 "| round | path | sessions | chunks/s | ack p50 ms | ack p99 ms | lost | corrupted | errors | machine busy / steal % |",
                 "|---|---|---|---|---|---|---|---|---|---|"]
    for (label, round_), r in sorted(saturation_runs.items(), key=lambda item: (item[0][1], peers.index(item[0][0]))):
        rounds_md.append(f"| {round_} | {label} | {r['sessions_completed']}/{r['sessions_requested']} | {r['chunks_per_s']:.0f} | "
                         f"{r['ack_latency_ms_p50']:.2f} | {r['ack_latency_ms_p99']:.2f} | {r['chunks_lost']} | {r['files_corrupted']} | "
                         f"{r['errors']} | {machine(f'saturation-{label}-{round_}', r)} |")
    open(os.path.join(plots, "saturation-rounds.md"), "w").write("\n".join(rounds_md) + "\n")

# Scale.
lines += ["", "## Scale through the gateway", "",
          "Fresh processes at each step, sessions held for the run; the target is p99 < 100 ms with nothing lost. `disk` is "
          "this machine's ext4 virtual disk, `tmpfs` keeps the recordings in memory (no writeback). Busy / steal is the "
          "whole machine's CPU while the sessions ran (steal: the hypervisor's share).", "",
          "| storage | frames | sessions | completed | chunks/s | ack p50 ms | ack p99 ms | max ms | lost | corrupted | RSS audio / gateway MiB | KiB per session | busy / steal % |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
for frames, rows in scale.items():
    for n_, r, audio_peak, gateway_peak, cost, label in rows:
        storage, kind = ("tmpfs", "binary") if frames == "tmpfs" else ("disk", frames)
        lines.append(f"| {storage} | {kind} | {n_} | {r['sessions_completed']} | {r['chunks_per_s']:.0f} | {r['ack_latency_ms_p50']:.2f} | "
                     f"{r['ack_latency_ms_p99']:.2f} | {r['ack_latency_ms_max']:.1f} | {r['chunks_lost']} | {r['files_corrupted']} | "
                     f"{audio_peak / 1024:.0f} / {gateway_peak / 1024:.0f} | {cost:.1f} | {machine(label, r)} |")
lines += ["", f"Idle, fresh: audio {idle['audio_kib'] / 1024:.1f} MiB, gateway {idle['gateway_kib'] / 1024:.1f} MiB resident.", "",
          "![p99 ack latency by sessions](performance/scale-latency.png)", "",
          "![resident memory during the largest run](performance/memory.png)"]

# Event path, registry, file list.
lines += ["", "## Event path, registry, file list", "", "```", text("events.txt"), "```", "", "```", text("registry.txt"), "```"]
if (listing := load("list")):
    lines += ["", f"File list with {listing.get('recordings', 100000):,} recordings in the embedded SQLite index (imported at start in "
              f"{listing['import_s']:.0f} s): first page {listing['recordings_first_page_ms']:.0f} ms "
              f"({listing['recordings_first_request_ms']:.0f} ms on the first request), a search {listing['recordings_search_ms']:.0f} ms, "
              f"`/api/files` {listing['files_ms']:.0f} ms (medians of 5)."]

# Plots.
fig, ax = plt.subplots(figsize=(7, 4))
for frames, rows in scale.items():
    if rows:
        title = "binary frames, tmpfs" if frames == "tmpfs" else f"{frames} frames, disk"
        ax.plot([n_ for n_, *_ in rows], [r["ack_latency_ms_p99"] for _, r, *_ in rows], marker="o", label=title)
ax.axhline(100, color="red", linestyle="--", label="target p99")
ax.set_xlabel("concurrent sessions through the gateway"); ax.set_ylabel("ack latency p99 (ms)"); ax.set_yscale("log")
ax.legend(); ax.grid(True, alpha=.3); fig.tight_layout(); fig.savefig(os.path.join(plots, "scale-latency.png"), dpi=110)
if scale["tmpfs"] or scale["binary"]:
    label = scale["tmpfs"][-1][5] if scale["tmpfs"] else scale["binary"][-1][5]
    rows, _ = rss(label)
    if rows:
        t0 = rows[0][0]
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot([r[0] - t0 for r in rows], [r[1] / 1024 for r in rows], label="audio")
        ax.plot([r[0] - t0 for r in rows], [r[2] / 1024 for r in rows], label="gateway")
        ax.set_xlabel("seconds"); ax.set_ylabel("resident memory (MiB)"); ax.set_title(label)
        ax.legend(); ax.grid(True, alpha=.3); fig.tight_layout(); fig.savefig(os.path.join(plots, "memory.png"), dpi=110)

lines += ["", "## Reproduce", "", "```sh", "bash scripts/bench                 # this report (installs nginx and matplotlib if missing)",
          "BENCH_QUICK=1 bash scripts/bench   # a few minutes, to check the script", "```", "",
          "It builds the release binaries and `loadgen/peers/spring-cloud-gateway` (Spring Boot 4.0.7, Spring Cloud 2025.1.4, "
          "Maven), starts the registry, one audio instance and the gateway as processes, nginx and Spring Cloud Gateway in "
          "front of the same instance, and runs `target/release/loadgen` for each row, for example:", "",
          "```sh", "loadgen --url ws://127.0.0.1:<gateway>/ws/record --sessions 1000 --duration-s 30 --ramp-up-s 20",
          "loadgen --url ws://127.0.0.1:<gateway>/ws/record --sessions 50 --interval-ms 0 --in-flight 1 --duration-s 12 --ramp-up-s 1",
          "```", "",
          "Then `cargo bench -p audio --bench events` against a Kafka broker it starts, `cargo bench -p registry`, and the file "
          "list over recordings it writes for the index to import. The raw JSON of a run stays in the folder it prints."]
open(os.path.join(docs, "performance.md"), "w").write("\n".join(lines) + "\n")
