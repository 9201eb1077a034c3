"""Per-file digests of the pretrained pipelines, to tell whether a rebuild in another session gave
the same files, and if not, which ones differ (issue 13: each session rebuilds work/paper/).

    python scripts/pretrain_digests.py work/paper/pretrain{315,212,4}/model-best --write docs/results/pretrain-digests.json
    python scripts/pretrain_digests.py work/paper/pretrain{315,212,4}/model-best --compare docs/results/pretrain-digests.json --add-missing

--write replaces the record of the pipelines given and keeps the others; --add-missing records the
pipelines that the compared file does not hold yet (the comparison itself changes nothing).

Each record also keeps how the build ran (``nerbert_build`` in its meta.json: torch version,
thread count, the CPU instruction set its kernels were dispatched for): on the CPU a run repeats
byte for byte only under the same three, so a comparison that finds different files names both
builds' conditions, or says that they are the same and the cause is something not recorded.

For transformer/model (thinc msgpack: the encoder's HF config, torch state dict, tokenizer files)
the digest is also given per part and per state-dict record, so a difference can be placed.
"""
import argparse
import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path

import srsly

from nerbert_spacy.grid import pipeline_fingerprint


def _sha(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()[:16]


def digests(folder: Path) -> dict:
    out = {"fingerprint": pipeline_fingerprint(folder), "files": {}, "transformer_parts": {}}
    meta = folder / "meta.json"
    if meta.is_file():  # torch version and thread count of the training run (nerbert.ConsoleLogger.v1)
        out["build"] = json.loads(meta.read_text(encoding="utf8")).get("nerbert_build")
    for p in sorted(x for x in folder.rglob("*") if x.is_file() and x.name != "meta.json"):
        data = p.read_bytes()
        out["files"][p.relative_to(folder).as_posix()] = _sha(data)
        if p.relative_to(folder).as_posix() != "transformer/model":
            continue
        msg = srsly.msgpack_loads(data)
        parts = out["transformer_parts"]
        parts["attrs"] = _sha(json.dumps(msg.get("attrs"), default=repr, sort_keys=True).encode())
        for i, shim in enumerate(s for group in msg.get("shims", []) for s in group):
            inner = srsly.msgpack_loads(shim)
            for key, value in inner.items():
                if key == "state":
                    with zipfile.ZipFile(io.BytesIO(value)) as z:
                        for name in z.namelist():
                            parts[f"shim{i}/state/{name}"] = _sha(z.read(name))
                else:
                    parts[f"shim{i}/{key}"] = _sha(json.dumps(value, default=repr, sort_keys=True).encode())
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pipelines", nargs="+", type=Path)
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path)
    group.add_argument("--compare", type=Path)
    ap.add_argument("--add-missing", action="store_true", help="with --compare: record pipelines it lacks")
    args = ap.parse_args(argv)
    if args.add_missing and not args.compare:
        ap.error("--add-missing goes with --compare")
    now = {}
    for folder in args.pipelines:
        if not (folder / "config.cfg").is_file():
            print(f"error: {folder}: not a saved pipeline (no config.cfg)", file=sys.stderr)
            return 2
        now[folder.as_posix()] = digests(folder)
    record = args.write or args.compare
    try:  # a record to --write may not exist yet; one to --compare must
        before = {} if args.write and not record.exists() else json.loads(record.read_text(encoding="utf8"))
    except (OSError, ValueError) as err:
        print(f"error: {record}: cannot be read as JSON ({err})", file=sys.stderr)
        return 2
    if args.write:
        _save(record, {**before, **now})
        print(f"wrote {', '.join(now)} to {record}")
        return 0
    same, missing = True, {}
    for name, d in now.items():
        old = before.get(name)
        if old is None:
            missing[name] = d
            print(f"{name}: not recorded in {args.compare}; "
                  + ("recorded now" if args.add_missing else "nothing to compare (--add-missing records it)"))
            continue
        diff = [k for k in sorted(set(d["files"]) | set(old["files"])) if d["files"].get(k) != old["files"].get(k)]
        parts = [k for k in sorted(set(d["transformer_parts"]) | set(old["transformer_parts"]))
                 if d["transformer_parts"].get(k) != old["transformer_parts"].get(k)]
        print(f"{name}: {'identical files' if not diff else 'differs in ' + ', '.join(diff)}"
              + (f"; transformer parts that differ: {len(parts)} ({', '.join(parts[:6])}{' ...' if len(parts) > 6 else ''})"
                 if parts else ""))
        if diff:
            now_b, then_b = (d.get("build") or {}), (old.get("build") or {})
            same_conditions = all(now_b.get(k) == then_b.get(k) for k in ("torch", "torch_threads", "cpu_capability"))
            print(f"  this build: {_build_text(now_b)}; the recorded one: {_build_text(then_b)}"
                  + (" (the same: the difference comes from something not recorded)" if same_conditions else ""))
        same = same and not diff
    if args.add_missing and missing:
        _save(record, {**before, **missing})
    return 0 if same else 1


def _build_text(build: dict) -> str:
    """How a build ran, as far as its meta.json says: on the CPU a run repeats byte for byte only
    with the same torch, thread count and kernel instruction set."""
    if not build:
        return "torch, thread count and CPU unrecorded"
    threads = build.get("torch_threads")
    return (f"torch {build.get('torch', '?')}, "
            + (f"{threads} thread(s)" if threads is not None else "thread count unrecorded") + ", "
            + (f"{build['cpu_capability']} kernels" if build.get("cpu_capability") else "CPU kernels unrecorded"))


def _save(path: Path, record: dict) -> None:
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf8")


if __name__ == "__main__":
    sys.exit(main())
