"""Fast checks of the demo recipes (issue 21): progress lines, usage messages, the demo's data."""
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROGRESS = REPO / "recipes" / "demo_progress.py"

# real fairseq-train --log-format simple lines (pmlm pre-training, seq2seq validation)
TRAIN_LOG = """\
2026-12-06 21:52:01 | INFO | fairseq.trainer | begin training epoch 1
2026-12-06 21:53:01 | INFO | train_inner | epoch 001:     25 / 399 loss=22.274, ae_loss=11.137, par_loss=11.137, wps=1301.5, ups=0.42, wpb=3072, bsz=8, num_updates=25, lr=0.000833333, gnorm=2.482, clip=100, train_wall=60, wall=61
2026-12-06 21:54:21 | INFO | train_inner | epoch 001:     50 / 399 loss=19.105, ae_loss=9.553, par_loss=9.552, wps=974.8, ups=0.32, wpb=3072, bsz=8, num_updates=50, lr=0.00166667, gnorm=1.724, clip=100, train_wall=78, wall=140
2026-12-06 21:55:00 | INFO | fairseq_cli.train | begin validation on "valid" subset
2026-12-06 21:55:10 | INFO | valid | epoch 001 | valid on 'valid' subset | loss 18.3 | ae_loss 9.15 | par_loss 9.15 | ctx_gap 0.412 | wps 3000 | wpb 2000 | bsz 8 | num_updates 50
2026-12-06 21:55:11 | INFO | fairseq_cli.train | done training in 190.0 seconds
"""


def run_progress(args, text, **kw):
    return subprocess.run([sys.executable, str(PROGRESS), *args], input=text, capture_output=True, text=True,
                          timeout=20, **kw)


def test_train_progress_lines_name_update_loss_and_time_left(tmp_path):
    log = tmp_path / "full.log"
    proc = run_progress(["train", "pre-training", "100", "--log", str(log)], TRAIN_LOG)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    updates = [line for line in lines if "update 25/100" in line or "update 50/100" in line]
    assert len(updates) == 2
    assert all(line.startswith("[pre-training ") and " bits" in line and "elapsed" in line and "left" in line
               for line in updates)
    assert "loss 19.105 bits" in updates[1]
    assert any("valid at update 50" in line and "ctx_gap 0.412" in line for line in lines)
    assert any(line.endswith("done: 50 updates in 0:00") for line in lines), lines
    assert log.read_text() == TRAIN_LOG  # nothing of fairseq's log is lost


def test_generate_progress_counts_hypotheses_and_passes_stdout_through():
    out = "".join(f"S-{i}\tsrc\nH-{i}\t-1.0\thyp\nD-{i}\t-1.0\thyp\n" for i in range(4))
    proc = run_progress(["generate", "beam search", "4"], out)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == out
    assert "summaries 4/4" in proc.stderr


def test_heartbeat_when_fairseq_is_quiet():
    # a producer that says nothing for 3 s: with --heartbeat 1 the filter still prints
    producer = "import time,sys; time.sleep(3); print('x', flush=True)"
    p1 = subprocess.Popen([sys.executable, "-c", producer], stdout=subprocess.PIPE)
    proc = subprocess.run([sys.executable, str(PROGRESS), "train", "fine-tuning", "10", "--heartbeat", "1"],
                          stdin=p1.stdout, capture_output=True, text=True, timeout=20)
    p1.wait()
    beats = [line for line in proc.stderr.splitlines() if "starting: update 0/10" in line]
    assert len(beats) >= 2, proc.stderr


def test_compare_objectives_without_arguments_prints_usage_and_starts_nothing(tmp_path):
    proc = subprocess.run(["bash", str(REPO / "recipes" / "compare_objectives.sh")], capture_output=True,
                          text=True, timeout=20, cwd=tmp_path)
    assert proc.returncode == 2
    assert "usage" in proc.stderr.lower() and "--cpu" in proc.stderr and "--gpu" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_demo_help_and_unknown_option(tmp_path):
    demo = str(REPO / "recipes" / "demo.sh")
    proc = subprocess.run(["bash", demo, "--help"], capture_output=True, text=True, timeout=20)
    assert proc.returncode == 0 and "PT_UPDATES" in proc.stdout
    proc = subprocess.run(["bash", demo, "--fast"], capture_output=True, text=True, timeout=20)
    assert proc.returncode == 2 and "usage" in proc.stderr


def test_demo_data_baselines_and_ablation_split(tmp_path):
    subprocess.run([sys.executable, str(REPO / "recipes" / "demo_data.py"), str(tmp_path)], check=True,
                   capture_output=True, timeout=60)
    src = (tmp_path / "test.src").read_text().splitlines()
    rot = (tmp_path / "test-rot.src").read_text().splitlines()
    assert len(src) == len(rot) == 100 and rot == src[1:] + src[:1]
    assert (tmp_path / "test-rot.tgt").read_text() == (tmp_path / "test.tgt").read_text()
    const = (tmp_path / "test.const").read_text().splitlines()
    assert len(const) == 100 and len(set(const)) == 1 and 40 <= len(const[0].split()) <= 90
    test_abstracts = set(src)
    pretrain = (tmp_path / "pretrain-train.txt").read_text()
    assert not any(a[:200] in pretrain for a in src[:20])  # test papers never enter pre-training
    valid = (tmp_path / "pretrain-valid.txt").read_text().splitlines()
    assert valid and not set(valid) & set(pretrain.splitlines())
    assert test_abstracts


def test_compare_objectives_summary_reports_spread_and_ranking(tmp_path):
    """compare_objectives.py on the files the recipe writes: mean +- sd, ranking, overlap verdict."""
    def write_run(folder, best, rouge1, gap, ctx=None):
        (folder / "aclsum").mkdir(parents=True)
        (folder / "aclsum" / "finetune.log").write_text(f"| valid | epoch 001 | loss {best} | best_loss {best}\n")
        (folder / "aclsum" / "rouge.json").write_text(json.dumps({"rouge1": rouge1, "rouge2": 1.0, "rougeLsum": 20.0}))
        (folder / "aclsum" / "ablation.json").write_text(json.dumps({"gap": gap}))
        if ctx is not None:
            rows = [{"epoch": 1, "loss": "9.5", "ae_loss": "9.4", "par_loss": "9.6", "num_updates": "5", "wps": "100"}]
            valid = {"epoch": 1, "valid_loss": "18.0", "valid_ctx_gap": str(ctx), "valid_num_updates": "5"}
            (folder / "pretrain.log").write_text(f"x | train_inner | {json.dumps(rows[0])}\nx | valid | {json.dumps(valid)}\n")
            (folder / "pretrain.time").write_text("0 60")
    for seed, (a, b) in zip((1, 2), ((9.0, 9.6), (9.2, 9.4))):
        write_run(tmp_path / "pmlm" / f"seed{seed}", a, 30 + seed, 0.5, ctx=0.3)
        write_run(tmp_path / "none" / f"seed{seed}", b, 29 + 3 * seed, 0.1)
    proc = subprocess.run([sys.executable, str(REPO / "recipes" / "compare_objectives.py"), str(tmp_path),
                           "--seeds", "1", "2", "--", "pmlm"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "| PMLM (UniLMv2) | 2 | 18.000 ± 0.000 | 0.300 ± 0.000 |" in out
    assert "9.100 ± 0.141" in out and "9.500 ± 0.141" in out
    # valid loss: 9.1 vs 9.5 with sd 0.14: a real difference; ROUGE-1 31.5 +- 0.7 vs 33.5 +- 2.1: within the spread
    assert "ranked on aclsum best valid loss: PMLM (UniLMv2) > no pre-training (every neighbour gap" in out
    assert "ranked on ROUGE-1: no pre-training > PMLM (UniLMv2) (the spread over seeds exceeds" in out
    assert (tmp_path / "results.md").read_text() == out and (tmp_path / "loss_curves.png").exists()


def test_demo_spread_gives_mean_sd_and_per_seed_differences(tmp_path):
    spread = REPO / "recipes" / "demo_spread.py"
    folders = []
    for seed, (pre, rnd, acc) in enumerate([(9.40, 9.44, 62.0), (9.42, 9.43, 58.0), (9.38, 9.46, 60.0)], start=1):
        d = tmp_path / f"seed{seed}"
        d.mkdir()
        s2s = {"own_source_nll": 9.0, "other_source_nll": 9.01, "gap": 0.01, "rouge1": 5.0, "rouge2": 0.1,
               "rougeLsum": 4.0, "n": 100}
        (d / "summary.json").write_text(json.dumps({
            "seed": seed, "pretrain_ctx_gap": 0.4, "pretrain_ae_loss": 8.2, "pretrain_par_loss": 8.8,
            "seq2seq_pretrained": {**s2s, "best_valid_loss": pre}, "seq2seq_random": {**s2s, "best_valid_loss": rnd},
            "nlu_lr3e-4": {"pretrained": acc, "random": 50.0, "majority": 41.3}}))
        folders.append(str(d))
    out = subprocess.run([sys.executable, str(spread), *folders], capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    valid = next(line for line in out.stdout.splitlines() if "best valid loss" in line)
    assert "9.400 ± 0.020" in valid and "9.443 ± 0.015" in valid and "-0.040 / -0.010 / -0.080" in valid
    nlu = next(line for line in out.stdout.splitlines() if "lr 3e-4" in line)
    assert "60.0 ± 2.0 |" in nlu and "+12.0 / +8.0 / +10.0" in nlu and "majority 41.3" in nlu
    missing = subprocess.run([sys.executable, str(spread), folders[0], str(tmp_path / "nowhere")],
                             capture_output=True, text=True, timeout=20)
    assert missing.returncode == 2 and "nowhere/summary.json" in missing.stderr
    twice = subprocess.run([sys.executable, str(spread), folders[0], folders[0]], capture_output=True, text=True,
                           timeout=20)
    assert twice.returncode == 2 and "same seed twice" in twice.stderr
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "summary.json").write_text("{}")
    bad = subprocess.run([sys.executable, str(spread), str(tmp_path / "bad")], capture_output=True, text=True, timeout=20)
    assert bad.returncode == 2 and "not a summary" in bad.stderr


def test_recipes_never_wipe_a_folder_they_did_not_make(tmp_path):
    (tmp_path / "mine.txt").write_text("precious")
    for recipe, args in (("demo.sh", []), ("compare_objectives.sh", ["--cpu"])):
        proc = subprocess.run(["bash", str(REPO / "recipes" / recipe), *args, str(tmp_path)], capture_output=True,
                              text=True, timeout=20)
        assert proc.returncode == 2 and "was not made by" in proc.stderr, (recipe, proc.stderr)
        assert (tmp_path / "mine.txt").read_text() == "precious"
