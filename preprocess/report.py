"""Run summaries: peak memory of this process and its children, throughput, one JSON line."""
import json
import resource
import sys


def peak_rss_mb():
    """Largest peak resident set size of this process and of any waited-for child (MB)."""
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        with open("/proc/self/status") as f:
            self_kb = max(self_kb, *(int(line.split()[1]) for line in f if line.startswith("VmHWM:")))
    except OSError:
        pass
    children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(self_kb, children_kb) / 1024, 1)


def summary(stats, seconds, lines_key):
    """``stats`` plus seconds, lines/s and MB/s (of input bytes) and peak RSS, as a dict."""
    out = dict(stats)
    out["seconds"] = round(seconds, 3)
    out["lines_per_s"] = round(stats.get(lines_key, 0) / seconds, 1) if seconds else None
    out["mb_per_s"] = round(stats.get("bytes", 0) / 1e6 / seconds, 2) if seconds else None
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def emit(record):
    """The last line a CLI prints on stdout: its summary as one JSON object."""
    print(json.dumps(record, sort_keys=True), flush=True)


def fail(error):
    """Bad input: one clear message on stderr, exit status 2."""
    print(f"error: {error}", file=sys.stderr)
    sys.exit(2)
