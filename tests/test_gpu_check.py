"""bench/gpu_check.py (issue 12): the dry run on the CPU, resuming, the device command, slim wheels."""
import base64
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECK = ROOT / "bench" / "gpu_check.py"
ROWS = {"bert-base-fp32", "bert-base-mixed", "minilm-fp32", "minilm-mixed"}


def _check(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECK), *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT)


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    """One dry run, then a second one with the same --out (it must resume, not redo)."""
    out = tmp_path_factory.mktemp("gpu_check") / "results"
    first = _check("--out", str(out), "--dry-run", "--export", str(out.parent / "exported"))
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    state_first = json.loads((out / "gpu_check.json").read_text(encoding="utf8"))
    second = _check("--out", str(out), "--dry-run")
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    return out, state_first, json.loads((out / "gpu_check.json").read_text(encoding="utf8"))


@pytest.mark.slow
def test_dry_run_throughput_rows(dry_run):
    out, state, _ = dry_run
    assert state["dry_run"] is True and state["epoch_sentences"] == 16_300_000
    tp = state["throughput"]
    assert tp["done"] and not tp["errors"]
    assert {f"{r['encoder']}-{r['precision']}" for r in tp["rows"]} == ROWS
    for r in tp["rows"]:
        assert r["timed_updates"] >= 1 and r["seconds"] > 0
        assert r["sentences"] == r["timed_updates"] * r["sentences_per_update"]
        assert r["sentences_per_s"] > 0 and r["words_per_s"] > r["sentences_per_s"]
        assert r["sentences_per_s"] == pytest.approx(r["sentences"] / r["seconds"])
        assert r["projected_hours_per_epoch"] == pytest.approx(16_300_000 / r["sentences_per_s"] / 3600)
        assert r["mixed_precision"] == (r["precision"] == "mixed")
        assert r["peak_gpu_memory_bytes"] is None  # CPU
        assert r["encoder_shape"]["parameters"] > 0
    # the same rows, one file each, and the markdown table
    assert {p.stem for p in (out / "throughput").glob("*.json")} == ROWS
    md = (out / "gpu_check.md").read_text(encoding="utf8")
    assert "hours per epoch of 16.3M sentences" in md and md.count("| bert-base (") == 2


@pytest.mark.slow
def test_dry_run_quality_part(dry_run):
    out, state, _ = dry_run
    q = state["quality"]
    assert q["done"] and q["grid_finished"] == q["grid_total"] == 4 and not q["grid_missing"]
    (pre,) = q["pretrainings"]
    assert pre["updates"] > 0 and "ents_f" in pre["dev"]
    for arm in ("bert", "nerbert", "nerbert-head", "zero-shot"):
        result = json.loads((out / "quality" / "grid" / "results" / "target" / "toy" / arm / "seed1.json")
                            .read_text(encoding="utf8"))
        assert 0.0 <= result["f1"] <= 1.0
    # early stopping in epochs became update steps for the toy domain (16 sentences, batch 16)
    bert = json.loads((out / "quality" / "grid" / "results" / "target" / "toy" / "bert" / "seed1.json")
                      .read_text(encoding="utf8"))
    assert bert["overrides"]["training.eval_frequency"] == 1 and bert["overrides"]["training.patience"] == 1
    assert "| bert |" in (out / "quality" / "crossner-gpu.md").read_text(encoding="utf8")


@pytest.mark.slow
def test_dry_run_resumes_and_exports(dry_run):
    out, first, second = dry_run
    assert len(second["runs"]) == 2
    assert second["runs"][1]["parts"] == {"throughput": "skipped: every row was measured earlier",
                                          "quality": "skipped: every grid run has a result"}
    assert second["runs"][1]["wall_s"] < 20
    assert second["throughput"]["rows"] == first["throughput"]["rows"]
    exported = out.parent / "exported"
    assert sorted(p.name for p in exported.iterdir()) == ["gpu_check.json", "gpu_check.md", "gpu_results.tgz"]
    import tarfile

    with tarfile.open(exported / "gpu_results.tgz") as tar:
        names = tar.getnames()
    assert "throughput/minilm-mixed.json" in names and "quality/grid/results/target/toy/bert/seed1.json" in names
    assert not any(n.startswith("_work/") and not n.endswith(".log") for n in names)


def test_resume_refuses_other_mode(tmp_path):
    (tmp_path / "gpu_check.json").write_text(json.dumps({"dry_run": True, "runs": [{"parts": {}}]}), encoding="utf8")
    done = _check("--out", str(tmp_path), "--data", str(tmp_path), "--part", "throughput")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"error: {tmp_path}: holds dry-run results; use another --out"]


def test_device_command_fits_the_run_tool():
    done = _check("--print-device-command", timeout=120)
    assert done.returncode == 0, done.stderr
    cmd = json.loads(done.stdout)
    assert len(cmd["command"]) < 2000 and len(cmd["carry"]) <= 8 and cmd["timeout_s"] <= 600
    assert {".gpu/wheels", ".gpu/data"} <= set(cmd["carry"])
    assert "--target .gpu/site" in cmd["command"] and "--export $OUT" in cmd["command"]
    assert "torch" not in cmd["command"]


def _wheel(path: Path, files: dict) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        record = []
        for name, data in files.items():
            zf.writestr(name, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{name},sha256={digest},{len(data)}")
        zf.writestr("demo-1.0.dist-info/RECORD", "\n".join(record + ["demo-1.0.dist-info/RECORD,,"]) + "\n")
    return path


def test_slim_wheels_keep_an_installable_wheel(tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from slim_wheels import keep_member, slim_wheel
    finally:
        sys.path.pop(0)
    assert keep_member("transformers/models/bert/modeling_bert.py", {"bert"})
    assert keep_member("transformers/models/albert/configuration_albert.py", {"bert"})
    assert keep_member("transformers/models/deprecated/deta/__init__.py", {"bert"})
    assert not keep_member("transformers/models/albert/modeling_albert.py", {"bert"})
    assert not keep_member("spacy/tests/test_language.py", set())
    assert not keep_member("thinc/backends/ops.pyx", set())
    src = tmp_path / "src"
    src.mkdir()
    files = {"demo/__init__.py": b"VALUE = 42\n", "demo/tests/test_x.py": b"assert False\n",
             "demo-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
             "demo-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                         b"Tag: py3-none-any\n"}
    slim = slim_wheel(_wheel(src / "demo-1.0-py3-none-any.whl", files), tmp_path, {"bert"})
    with zipfile.ZipFile(slim) as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_LZMA}
        assert "demo/tests/test_x.py" not in zf.namelist()
        assert "demo/tests/test_x.py" not in zf.read("demo-1.0.dist-info/RECORD").decode()
    target = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps",
                           "--target", str(target), str(slim)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (target / "demo" / "__init__.py").read_text() == "VALUE = 42\n"
