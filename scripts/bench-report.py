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


cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
cores = os.cpu_count()
memory = next((int(l.split()[1]) // 1024 // 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
idle = json.load(open(os.path.join(results, "rss-idle.json")))

lines = ["# Performance", ""]
if quick:
    lines += ["> These figures come from a short smoke run (`BENCH_QUICK=1`), not the full benchmark.", ""]
lines += [
    f"Measured by `bash scripts/bench` on {cores} cores ({cpu}), {memory} GiB, Linux. The load generator "
    "(`loadgen`), the gateway, the audio service and nginx all run on this one machine and share its cores, "
    "so ratios measured in the same run are what to read; absolute figures are this machine's.",
    "",
    "Fresh memory, measured first on the idle machine (`cargo bench -p loadgen --bench first_touch`): "
    f"{first_touch()}",
    "",
    "Every session sends a chunk of 5,000 bytes every 250 ms (what a browser's MediaRecorder sends), waits for "
    "nothing (acks are checked as they come), and at the end the stored file is checked to hold exactly the bytes sent.",
    "",
    "## Direct, through the gateway, through nginx",
    "",
    "| path | sessions | chunks/s | MB/s | ack p50 ms | ack p99 ms | max ms | lost | corrupted | errors | machine busy / steal % |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
]
compare = {}
for label in ("direct", "gateway", "nginx"):
    r = load(label)
    if not r:
        continue
    compare[label] = r
    lines.append(f"| {label} | {r['sessions_completed']}/{r['sessions_requested']} | {r['chunks_per_s']:.0f} | {r['megabytes_per_s']:.2f} | "
                 f"{r['ack_latency_ms_p50']:.2f} | {r['ack_latency_ms_p99']:.2f} | {r['ack_latency_ms_max']:.1f} | {r['chunks_lost']} | {r['files_corrupted']} | {r['errors']} | {machine(label, r)} |")
if "direct" in compare and "gateway" in compare:
    d, g = compare["direct"], compare["gateway"]
    lines += ["", f"Gateway / direct: throughput {g['chunks_per_s'] / max(d['chunks_per_s'], 1):.2f}, "
              f"p99 latency {g['ack_latency_ms_p99']:.2f} ms vs {d['ack_latency_ms_p99']:.2f} ms."]
    if "nginx" in compare:
        n = compare["nginx"]
        lines.append(f"Gateway / nginx: throughput {g['chunks_per_s'] / max(n['chunks_per_s'], 1):.2f}, "
                     f"p99 latency {g['ack_latency_ms_p99']:.2f} ms vs {n['ack_latency_ms_p99']:.2f} ms.")
    lines.append("At this rate each session's throughput is fixed by its schedule, so equal chunks/s means both kept up; "
                 "latency is where the paths differ.")

# Each saturation run by (path, round), read once; each path's best round is derived from them.
saturation_paths = ("direct", "gateway", "gateway-tcp", "nginx")
saturation_runs = {}
for path in sorted(glob.glob(os.path.join(results, "saturation-*-*.json"))):
    name = os.path.basename(path)[len("saturation-"):-len(".json")]
    label, _, round_ = name.rpartition("-")
    if label in saturation_paths and round_.isdigit() and (r := load(f"saturation-{name}")):
        saturation_runs[(label, int(round_))] = r
saturation_rounds = sorted({round_ for _, round_ in saturation_runs})
warmup = load("warmup")
saturation = {}
for (label, _), r in saturation_runs.items():
    if label not in saturation or r["chunks_per_s"] > saturation[label]["chunks_per_s"]:
        saturation[label] = r


def saturation_ratios(a, b):
    """a's chunks/s over b's in each round both ran."""
    return [saturation_runs[(a, round_)]["chunks_per_s"] / max(saturation_runs[(b, round_)]["chunks_per_s"], 1)
            for round_ in saturation_rounds if (a, round_) in saturation_runs and (b, round_) in saturation_runs]


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


if saturation:
    seconds = next(iter(saturation_runs.values()))["duration_s"]
    lines += ["", "## At saturation", "",
              "Each session sends its next chunk the moment the last one is acknowledged (`--interval-ms 0 --in-flight 1`), "
              "so chunks/s is what each path carries on this machine's two cores, which the load generator shares. "
              f"{len(saturation_rounds)} rounds of {seconds} s, interleaved: direct, gateway, gateway-tcp, nginx, the order reversed "
              "every other round"
              + (f", after a warm-up load straight to audio that is not scored ({warmup['chunks_per_s']:.0f} chunks/s)" if warmup else "")
              + ". One path's chunks/s varies by a quarter or more from one run to the next on this machine "
              "(what the page cache's fresh memory and the disk's writeback cost at the moment), so the ratios are taken "
              "round by round and judged on their median; every round is shown. "
              "The gateway reaches the audio instance over the Unix socket the instance advertises "
              "(same host); `gateway-tcp` is a second gateway told to use TCP (`GATEWAY_UNIX_SOCKETS=false`); nginx proxies "
              "to the same Unix socket and reads 16 KiB at a time, as the gateway does.", "",
              "| path | round | sessions | chunks/s | MB/s | ack p50 ms | ack p99 ms | lost | corrupted | errors | machine busy / steal % |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for (label, round_), r in sorted(saturation_runs.items(), key=lambda item: (item[0][1], saturation_paths.index(item[0][0]))):
        lines.append(f"| {label} | {round_} | {r['sessions_completed']}/{r['sessions_requested']} | {r['chunks_per_s']:.0f} | {r['megabytes_per_s']:.2f} | "
                     f"{r['ack_latency_ms_p50']:.2f} | {r['ack_latency_ms_p99']:.2f} | {r['chunks_lost']} | {r['files_corrupted']} | {r['errors']} | "
                     f"{machine(f'saturation-{label}-{round_}', r)} |")
    lines += [""]
    for a, b in (("gateway", "direct"), ("gateway-tcp", "direct"), ("gateway", "nginx"), ("nginx", "direct")):
        rounds = saturation_ratios(a, b)
        if rounds:
            lines.append(f"{a.capitalize()} / {b}: median **{median(rounds):.2f}**; round by round " + ", ".join(f"{x:.2f}" for x in rounds) +
                         f"; {saturation[a]['chunks_per_s'] / max(saturation[b]['chunks_per_s'], 1):.2f} best against best.")

scale = {"binary": [], "json": [], "tmpfs": []}
scale_rows = []
for frames, pattern in (("binary", "scale-binary"), ("json", "scale-json"), ("tmpfs", "tmpfs-binary")):
    paths = [p for p in glob.glob(os.path.join(results, f"{pattern}-*.json")) if not p.endswith((".idle.json", ".cpu.json"))]
    for path in sorted(paths, key=lambda p: int(p.rsplit("-", 1)[1][:-5])):
        label = os.path.basename(path)[:-5]
        r = json.load(open(path))
        _, (audio_peak, gateway_peak) = rss(label)
        scale[frames].append((r["sessions_requested"], r, audio_peak, gateway_peak))
        storage, kind = ("tmpfs", "binary") if frames == "tmpfs" else ("disk", frames)
        windows = " ".join(f"{w:.0f}" for w in r.get("ack_latency_ms_p99_by_10s", []))
        scale_rows.append(f"| {storage} | {kind} | {r['sessions_requested']} | {r['sessions_completed']} | {r['chunks_per_s']:.0f} | {r['ack_latency_ms_p50']:.2f} | "
                          f"{r['ack_latency_ms_p99']:.2f} | {r['ack_latency_ms_max']:.1f} | {r['chunks_lost']} | {r['files_corrupted']} | "
                          f"{audio_peak / 1024:.0f} | {gateway_peak / 1024:.0f} | {machine(label, r)} | {windows} |")
# The busy / steal column covers the sessions only if every scale step's report measured them.
scale_reports = [r for rows in scale.values() for _, r, _, _ in rows]
busy_span = ("from the first session's start to the last one's end (ramp-up included, the file checks after it left out)"
             if scale_reports and all(r.get("machine_cpu_during_sessions") for r in scale_reports)
             else "over the whole run, ramp-up and file checks included")
lines += ["", "## Scale: concurrent sessions through the gateway", "",
          "Each step holds the sessions for the run's duration; the target is p99 ack latency under 100 ms with nothing lost. "
          "`disk` rows keep the recordings on this machine's disk (ext4 on a virtual disk); `tmpfs` rows keep them in memory, "
          "which takes the kernel's writeback out of the picture. The last column is the p99 of the chunks sent in each 10 s "
          "of the run (ramp-up first, the end of the recordings last). The busy / steal column is the whole machine's CPU "
          f"{busy_span}, so it averages short bursts away (steal is the hypervisor's share).", "",
          "| storage | frames | sessions | completed | chunks/s | ack p50 ms | ack p99 ms | max ms | lost | corrupted | peak RSS audio MiB | peak RSS gateway MiB | machine busy / steal % | p99 per 10 s, ms |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
lines += scale_rows


def largest_ok(rows):
    ok = [n for n, r, _, _ in rows if r["ack_latency_ms_p99"] < 100 and r["chunks_lost"] == 0 and r["files_corrupted"] == 0
          and r["sessions_completed"] == r["sessions_requested"]]
    return max(ok) if ok else 0


best = {frames: largest_ok(rows) for frames, rows in scale.items()}
lines += ["", f"Largest step meeting the target: **{best['binary']}** sessions with binary frames, **{best['json']}** with JSON data-URL frames "
          f"(recordings on disk); **{best['tmpfs']}** with binary frames and the recordings in memory."]

lines += ["", "## Memory", "",
          f"Resident memory at idle: audio {idle['audio_kib'] / 1024:.1f} MiB, gateway {idle['gateway_kib'] / 1024:.1f} MiB.", ""]
per_session = []
for storage, rows in (("disk", scale["binary"]), ("tmpfs", scale["tmpfs"])):
    for n, r, audio_peak, gateway_peak in rows:
        if not (n and audio_peak):
            continue
        # Each step starts from fresh processes, with its own idle figures.
        base = load(f"{'tmpfs' if storage == 'tmpfs' else 'scale'}-binary-{n}.idle") or idle
        cost = ((audio_peak - base["audio_kib"]) + (gateway_peak - base["gateway_kib"])) / n
        held = largest_ok([(n, r, 0, 0)]) == n
        if held:
            per_session.append((n, cost))
        lines.append(f"- {n} sessions ({storage}): audio {audio_peak / 1024:.0f} MiB, gateway {gateway_peak / 1024:.0f} MiB peak; "
                     f"**{cost:.1f} KiB per live session** across both (peak minus idle, divided by sessions"
                     + ", fresh processes)"
                     + ("." if held else "; this step missed the latency target, so its backlog is in the figure."))

lines += ["", "## Event path, registry, file list", "", "```", text("events.txt"), "```", "", "```", text("registry.txt"), "```", ""]
listing = load("list")
if listing:
    lines.append(f"With the benchmark's recordings in the embedded SQLite index (imported at start from a `meta/` "
                 f"folder as the previous version wrote it, in {listing['import_s']:.0f} s), `GET /api/recordings?page=1&limit=50` took "
                 f"{listing['recordings_first_request_ms']:.0f} ms on the service's first request and "
                 f"{listing['recordings_first_page_ms']:.0f} ms after; a search (`q=bulk-4242`, a prefix of file name, "
                 f"metaId and userId) took {listing['recordings_search_ms']:.0f} ms; `GET /api/files` took {listing['files_ms']:.0f} ms. "
                 f"Medians of 5, except the first request.")

# Targets.
g = compare.get("gateway"); d = compare.get("direct"); n = compare.get("nginx")
lines += ["", "## Against the targets", "", "| target | measured | met |", "|---|---|---|"]
lines.append(f"| 5,000 sessions through the gateway, p99 < 100 ms, nothing lost | largest step met: {best['binary']} (disk), {best['tmpfs']} (tmpfs) | "
             f"{'yes' if best['binary'] >= 5000 else ('with the recordings in memory only' if best['tmpfs'] >= 5000 else 'no')} |")
def throughput_target(name, other_label, other, at_least):
    """A row comparing the gateway's throughput with another path's: met if it is at the browser's
    rate and the median of the saturation rounds is."""
    ratio = g['chunks_per_s'] / max(other['chunks_per_s'], 1)
    measured = (f"{ratio:.2f} at {g['sessions_requested']} browser-rate sessions "
                f"(p99 {g['ack_latency_ms_p99']:.1f} vs {other['ack_latency_ms_p99']:.1f} ms)")
    judged = [ratio]
    rounds = saturation_ratios("gateway", other_label)
    if rounds:
        judged.append(median(rounds))
        measured += (f"; at saturation a median of {median(rounds):.2f} over {len(rounds)} rounds "
                     f"({min(rounds):.2f} to {max(rounds):.2f}; {sum(x >= at_least for x in rounds)} of {len(rounds)} rounds at {at_least} or more)")
    lines.append(f"| {name} | {measured} | {'yes' if min(judged) >= at_least else 'no'} |")


if g and d:
    throughput_target("gateway throughput >= 0.8 x direct", "direct", d, 0.8)
if g and n:
    throughput_target("gateway at least as fast as nginx", "nginx", n, 1.0)
if per_session:
    worst = max(c for _, c in per_session)
    lines.append(f"| under 64 KiB resident per live session (gateway + audio) | up to {worst:.1f} KiB at the steps that held | {'yes' if worst < 64 else 'no'} |")

# Plots.
fig, ax = plt.subplots(figsize=(7, 4))
for frames, rows in scale.items():
    if rows:
        frames = "binary frames, tmpfs" if frames == "tmpfs" else f"{frames} frames, disk"
        ax.plot([n for n, *_ in rows], [r["ack_latency_ms_p99"] for _, r, *_ in rows], marker="o", label=frames)
ax.axhline(100, color="red", linestyle="--", label="target p99")
ax.set_xlabel("concurrent sessions through the gateway"); ax.set_ylabel("ack latency p99 (ms)"); ax.set_yscale("log")
ax.legend(); ax.grid(True, alpha=.3); fig.tight_layout(); fig.savefig(os.path.join(plots, "scale-latency.png"), dpi=110)
if scale["tmpfs"] or scale["binary"]:
    label = f"tmpfs-binary-{scale['tmpfs'][-1][0]}" if scale["tmpfs"] else f"scale-binary-{scale['binary'][-1][0]}"
    rows, _ = rss(label)
    if rows:
        t0 = rows[0][0]
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot([r[0] - t0 for r in rows], [r[1] / 1024 for r in rows], label="audio")
        ax.plot([r[0] - t0 for r in rows], [r[2] / 1024 for r in rows], label="gateway")
        ax.set_xlabel("seconds"); ax.set_ylabel("resident memory (MiB)"); ax.set_title(label)
        ax.legend(); ax.grid(True, alpha=.3); fig.tight_layout(); fig.savefig(os.path.join(plots, "memory.png"), dpi=110)
lines += ["", "![p99 ack latency by sessions](performance/scale-latency.png)", "", "![resident memory during the largest run](performance/memory.png)", ""]

analysis = os.path.join(docs, "performance", "analysis.md")
if os.path.exists(analysis):
    lines += [open(analysis).read().rstrip(), ""]

lines += ["## The commands", "", "```sh", "bash scripts/bench", "```", "",
          "It builds the release binaries, starts the registry, one audio instance and the gateway as separate processes, "
          "and nginx (Debian's package) as a WebSocket reverse proxy to the same audio instance (both proxies reach it over "
          "the Unix socket it serves with `--unix-socket`), then runs "
          "`target/release/loadgen` for each row above, for example:", "",
          "```sh", "loadgen --url ws://127.0.0.1:<gateway>/ws/record --sessions 1000 --duration-s 30 --ramp-up-s 20",
          "loadgen --url ws://127.0.0.1:<gateway>/ws/record --sessions 50 --interval-ms 0 --in-flight 1 --duration-s 12 --ramp-up-s 1",
          "loadgen --url ws://127.0.0.1:<gateway>/ws/record --sessions 2000 --duration-s 60 --ramp-up-s 20 --json", "```", "",
          "Each scale step restarts the audio instance and the gateway first, so that its memory figures start from fresh processes. ",
          "After the load steps it runs `cargo bench -p audio --bench events` against a Kafka broker it starts, `cargo bench -p registry`, "
          "and times the file list over recordings it writes as a `meta/` folder, which the audio instance imports into its index at start. Before the servers start it runs `cargo bench -p loadgen --bench first_touch -- 8` on the idle machine. The raw JSON reports of one run are in the folder it prints.", "",
          "The profiles and the write-pattern figures above come from three more commands, run apart from the benchmark:", "",
          "```sh", "PROFILE_OUT=docs/performance bash scripts/profile 3000   # perf: CPU a chunk, top symbols, the flame graphs above",
          "bash scripts/callgrind 40                                                                  # valgrind: instructions a chunk",
          "WRITE_PATTERN_DIR=/work/wp-data cargo bench -p audio --bench write_pattern -- 5000 120   # the disk's cost, per-recording files against a log",
          "```", ""]
open(os.path.join(docs, "performance.md"), "w").write("\n".join(lines) + "\n")
