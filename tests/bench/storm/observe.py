"""What the storm costs the machine: peak memory per process (sampled), and py-spy profiles
of the services summarised as the functions that took the most samples."""
from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import psutil

from tests.bench.storm.systems import Processes

MIB = 1024 * 1024


class PeakMemory:
    """Samples each named group of processes every `interval` seconds in a thread: the peak of
    the group's summed RSS, and of its summed PSS (shared pages split between the processes
    sharing them: PostgreSQL's backends all map its shared buffers). The latest sample is kept
    too, for memory held at a point of the run (`marks`) and once the run is over (`settle`)."""

    def __init__(self, groups: dict[str, Processes], interval: float = 0.5) -> None:
        self.groups, self.interval = groups, interval
        self.rss: Counter[str] = Counter()
        self.pss: Counter[str] = Counter()
        self.latest: Counter[str] = Counter()  # PSS of the last sample
        self.marks: list[tuple[str, float]] = []  # (what, whole PSS in MiB then)
        self.settled: Counter[str] = Counter()  # mean PSS over `settle`
        # CPU seconds (user + system) per group over the run: each process's time since it
        # was first sampled (a process started during the run counts from zero).
        self._cpu_first: dict[tuple[str, int], float] = {}
        self._cpu_last: dict[tuple[str, int], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-memory", daemon=True)

    _started = False

    def __enter__(self) -> "PeakMemory":
        self.sample()  # CPU counts from here
        self._started = True
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()  # the end of the run counts too

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        for name, listed in self.groups.items():
            rss = pss = 0
            try:
                processes = listed()
            except psutil.Error:
                continue
            for p in processes:
                try:
                    info = p.memory_full_info()
                    times = p.cpu_times()
                except psutil.Error:  # a backend that just exited
                    continue
                key, used = (name, p.pid), times.user + times.system
                self._cpu_first.setdefault(key, 0.0 if self._started else used)
                self._cpu_last[key] = used
                rss, pss = rss + info.rss, pss + getattr(info, "pss", info.rss)
            self.rss[name] = max(self.rss[name], rss)
            self.pss[name] = max(self.pss[name], pss)
            self.latest[name] = pss

    def cpu(self) -> dict[str, float]:
        """CPU seconds each group used during the run (so far)."""
        used: Counter[str] = Counter()
        for key, last in self._cpu_last.items():
            used[key[0]] += last - self._cpu_first[key]
        return {name: used[name] for name in self.groups}

    def mark(self, what: str) -> None:
        """Note the whole stack's memory (PSS) now, e.g. "10000 paged"."""
        self.marks.append((what, sum(self.latest.values()) / MIB))

    def settle(self, seconds: float) -> None:
        """Memory held with nothing more coming: the mean PSS per group of the samples taken
        over `seconds` (sampled here, so the thread's interval does not matter)."""
        samples = max(1, round(seconds / self.interval))
        total: Counter[str] = Counter()
        for _ in range(samples):
            self.sample()
            total.update(self.latest)
            self._stop.wait(self.interval)
        self.settled = Counter({name: total[name] / samples for name in self.groups})

    def line(self) -> str:
        parts = []
        for name in self.groups:
            text = f"{name} {self.rss[name] / MIB:.0f}"
            if self.pss[name] * 1.1 < self.rss[name]:  # worth saying only when they differ
                text += f" (PSS {self.pss[name] / MIB:.0f})"
            parts.append(text)
        total = sum(self.pss[n] for n in self.groups) / MIB
        text = f"peak MiB: {', '.join(parts)}; whole (PSS) {total:.0f}"
        cpu = self.cpu()
        text += ("\n  CPU s: " + ", ".join(f"{n} {c:.1f}" for n, c in cpu.items())
                 + f"; whole {sum(cpu.values()):.1f}")
        if self.settled:
            held = ", ".join(f"{n} {self.settled[n] / MIB:.0f}" for n in self.groups)
            text += (f"\n  settled PSS MiB: {held}; whole "
                     f"{sum(self.settled.values()) / MIB:.0f}")
        if self.marks:
            text += "\n  whole PSS MiB at: " + ", ".join(f"{w} {m:.0f}" for w, m in self.marks)
        return text


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


class Profiles:
    """py-spy recording the given processes (raw collapsed stacks) until the context ends."""

    def __init__(self, pids: dict[str, int], out: Path, rate: int = 50) -> None:
        binary = py_spy()
        if binary is None:
            raise RuntimeError("py-spy not found: .venv/bin/pip install py-spy")
        out.mkdir(parents=True, exist_ok=True)
        self.files = {name: out / f"{name}.txt" for name in pids}
        self.recorders = [subprocess.Popen(
            [binary, "record", "--pid", str(pid), "--format", "raw", "--rate", str(rate),
             "--nonblocking", "--output", str(self.files[name])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for name, pid in pids.items()]

    def __enter__(self) -> "Profiles":
        return self

    def __exit__(self, *_) -> None:
        for recorder in self.recorders:
            recorder.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        for recorder in self.recorders:
            try:
                recorder.wait(60)
            except subprocess.TimeoutExpired:
                recorder.kill()


LINE_NUMBER = re.compile(r":\d+\)$")
PROJECT = ("services/", "shared/")  # where "total" looks: the frames below them are libraries


def top_functions(collapsed: str, n: int = 12,
                  within: tuple[str, ...] = PROJECT) -> tuple[int, list, list]:
    """py-spy's raw output ("frame;frame;… count" per line, the leaf last) → the number of
    samples, the `n` functions with most samples as the leaf (self, any code), and the `n`
    functions of the project's own files (`within`) with most samples anywhere in the stack
    (total, once per stack). Line numbers are dropped: a function is one row."""
    samples, own, anywhere = 0, Counter(), Counter()
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [LINE_NUMBER.sub(")", frame) for frame in stack.split(";")]
        samples += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            if frame.rpartition(" (")[2].startswith(within):
                anywhere[frame] += int(count)
    return samples, own.most_common(n), anywhere.most_common(n)


def summary(files: dict[str, Path], n: int = 12) -> str:
    lines = []
    for name, path in files.items():
        if not path.exists():
            lines.append(f"{name}: no profile written")
            continue
        samples, own, anywhere = top_functions(path.read_text(), n)
        lines.append(f"{name}: {samples} samples (wall time of busy threads)")
        for title, rows in (("self", own), (f"total, in {' '.join(PROJECT)}", anywhere)):
            lines.append(f"  top {title}:")
            lines += [f"    {100 * c / max(samples, 1):5.1f}%  {frame}" for frame, c in rows]
    return "\n".join(lines)
