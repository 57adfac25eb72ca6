#!/usr/bin/env python
"""Progress lines for the demo recipes: reads a fairseq log on stdin, prints one short line per
fairseq log line that matters (stderr), and a heartbeat when fairseq is quiet.

    fairseq-train ... --log-format simple --log-interval N 2>&1 | python recipes/demo_progress.py train STAGE TOTAL_UPDATES
    PYTHONUNBUFFERED=1 fairseq-generate ... | python recipes/demo_progress.py generate STAGE N_SENTENCES

train: every `train_inner` line -> "update U/TOTAL, loss L, M:SS elapsed, ~M:SS left"
       (time left from the rate since the first update), every `valid` line -> its loss and
       ctx_gap/nll_loss; generate: every hypothesis batch -> "S/N summaries, ... left".
Every line read is also written to the log file given by --log (default: none), so nothing of
fairseq's output is lost. With nothing to report for --heartbeat seconds (25), it prints the last
state with what fairseq is doing (starting, validating, saving).
"""
import argparse
import queue
import re
import sys
import threading
import time

_FIELD = re.compile(r"(\w+)=([-\d.e+]+)")
_VALID = re.compile(r"\| (\w+) ([-\d.e+]+)")


def fields(text, pattern=_FIELD):
    """fairseq's log fields: --log-format json ({"loss": "9.2", ...}) or simple (loss=9.2 / | loss 9.2)."""
    text = text.strip()
    if text.startswith("{"):
        import json

        try:
            return {k: str(v) for k, v in json.loads(text).items()}
        except ValueError:
            return {}
    return dict(pattern.findall(text))


def clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


class Progress:
    def __init__(self, mode, stage, total, out=sys.stderr):
        self.mode, self.stage, self.total, self.out = mode, stage, total, out
        self.t0 = time.monotonic()
        self.first = None  # (time, count) of the first count seen, for the rate
        self.done = 0
        self.state = "starting"
        self.last_print = self.t0

    def say(self, text):
        print(f"[{self.stage} {time.strftime('%H:%M:%S')}] {text}", file=self.out, flush=True)
        self.last_print = time.monotonic()

    def left(self, now):
        if self.first is None or self.done <= self.first[1]:
            return "time left unknown"
        rate = (now - self.first[0]) / (self.done - self.first[1])
        return f"~{clock(rate * (self.total - self.done))} left"

    def count(self, n, what, extra=""):
        now = time.monotonic()
        if self.first is None:
            self.first = (self.t0, 0)  # rate over the whole stage, start-up included
        self.done = n
        self.say(f"{what} {n}/{self.total}{extra}, {clock(now - self.t0)} elapsed, {self.left(now)}")

    def line(self, line):
        if self.mode == "train":
            if "| train_inner |" in line:
                f = fields(line.split("| train_inner |", 1)[1])
                if "num_updates" in f:
                    loss = f" loss {float(f['loss']):.3f}" if "loss" in f else ""
                    self.count(int(float(f["num_updates"])), "update", "," + loss + " bits")
                    self.state = "training"
            elif "| valid |" in line or "valid on '" in line:
                f = fields(line.split("| valid |", 1)[-1], _VALID)
                f = {k[len("valid_"):] if k.startswith("valid_") else k: v for k, v in f.items()}
                keep = [k for k in ("loss", "nll_loss", "ae_loss", "ctx_gap") if k in f]
                if "num_updates" in f:
                    self.done = int(float(f["num_updates"]))
                if keep:
                    self.say(f"valid at update {f.get('num_updates', '?')}: "
                             + ", ".join(f"{k} {float(f[k]):.3f}" for k in keep))
                self.state = "training"
            elif "begin validation" in line or "begin dry-run validation" in line:
                self.state = "validating"
            elif "Saving checkpoint" in line or "saved checkpoint" in line:
                self.state = "saving a checkpoint"
            elif "begin training epoch" in line:
                self.state = "training"
            elif "done training" in line:
                self.say(f"done: {self.done} updates in {clock(time.monotonic() - self.t0)}")
        else:  # fairseq-generate stdout: one H- line per sentence
            if line.startswith("H-"):
                self.done += 1
                if self.first is None:
                    self.first = (self.t0, 0)
                self._pending = True
                self.state = "decoding"

    def flush_batch(self):
        if self.mode == "generate" and getattr(self, "_pending", False):
            self._pending = False
            self.count(self.done, "summaries")

    def heartbeat(self):
        now = time.monotonic()
        unit = "update" if self.mode == "train" else "summaries"
        self.say(f"{self.state}: {unit} {self.done}/{self.total}, {clock(now - self.t0)} elapsed, {self.left(now)}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=("train", "generate"))
    p.add_argument("stage", help="name printed at the start of each line, e.g. pre-training")
    p.add_argument("total", type=int, help="updates (train) or sentences (generate) to expect")
    p.add_argument("--log", help="also write every input line here")
    p.add_argument("--heartbeat", type=float, default=25.0)
    args = p.parse_args(argv)
    prog = Progress(args.mode, args.stage, args.total)
    log = open(args.log, "a") if args.log else None
    lines = queue.Queue()

    def read():
        for raw in sys.stdin:
            lines.put(raw)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    while True:
        try:
            raw = lines.get(timeout=1.0)
        except queue.Empty:
            prog.flush_batch()
            if time.monotonic() - prog.last_print >= args.heartbeat:
                prog.heartbeat()
            continue
        if raw is None:
            break
        if log:
            log.write(raw)
            log.flush()
        if args.mode == "generate":
            sys.stdout.write(raw)  # generate's stdout is the hypotheses file: passed on whole
        prog.line(raw)
        if time.monotonic() - prog.last_print >= args.heartbeat:
            prog.heartbeat()
    prog.flush_batch()
    if log:
        log.close()


if __name__ == "__main__":
    main()
