"""Repack wheels smaller for the GPU machine's 64 MiB carry limit (scripts/gpu_wheelhouse.sh).

Each wheel of SRC is written to DEST as a valid wheel of the same name with:
* test suites, Cython/C/C++ sources and headers left out;
* ``transformers/models/*``: the families named in ``--keep-models`` whole, the others reduced
  to their ``__init__``, configuration and tokenizer modules, which the Auto classes import
  while they look a name up (their modeling code is never imported for a BERT encoder);
* shared libraries stripped of symbols a loader does not need (``strip --strip-unneeded``);
* every member compressed with LZMA (ZIP method 14, read by Python's zipfile and so by pip);
* a RECORD rewritten with the hashes and sizes of what is kept.

    python scripts/slim_wheels.py SRC_DIR DEST_DIR [--keep-models bert,auto,encoder_decoder]
"""
import argparse
import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import List, Optional, Set

DROP_SUFFIXES = (".pyx", ".pxd", ".pxi", ".c", ".cc", ".cpp", ".h", ".hh", ".hpp")


def keep_member(name: str, keep_models: Set[str]) -> bool:
    """Whether a wheel member goes into the slim wheel.

    name (str): The member's path inside the wheel.
    keep_models (Set[str]): transformers model families to keep.
    RETURNS (bool): True to keep it.
    """
    parts = name.split("/")
    if name.endswith(DROP_SUFFIXES) or "tests" in parts[:-1]:
        return False
    if parts[:2] == ["transformers", "models"] and len(parts) > 3 and parts[2] not in keep_models:
        # other families keep what the Auto classes import while they look a name up
        return parts[-1] == "__init__.py" or parts[-1].startswith(("configuration_", "tokenization_"))
    return True


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return f"{name},sha256={digest},{len(data)}"


def _strip(data: bytes, strip: Optional[str]) -> bytes:
    if strip is None:
        return data
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lib.so"
        path.write_bytes(data)
        done = subprocess.run([strip, "--strip-unneeded", str(path)], capture_output=True)
        return path.read_bytes() if done.returncode == 0 else data


def slim_wheel(src: Path, dest_dir: Path, keep_models: Set[str], strip: Optional[str] = None) -> Path:
    """Write the slim copy of one wheel into ``dest_dir`` (same file name).

    src (Path): The wheel.
    dest_dir (Path): Output folder.
    keep_models (Set[str]): transformers model families to keep.
    strip (Optional[str]): Path of the ``strip`` program, or None to leave libraries as they are.
    RETURNS (Path): The slim wheel.
    """
    out = dest_dir / src.name
    tmp = dest_dir / f".tmp-{src.name}"
    records: List[str] = []
    record_name = None
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_LZMA) as zout:
        for info in zin.infolist():
            name = info.filename
            if name.endswith("/") or not keep_member(name, keep_models):
                continue
            if name.endswith(".dist-info/RECORD"):
                record_name = name
                continue
            data = zin.read(info)
            if ".so" in Path(name).suffixes:
                data = _strip(data, strip)
            zi = zipfile.ZipInfo(name, date_time=info.date_time)
            zi.external_attr = info.external_attr
            zi.compress_type = zipfile.ZIP_LZMA
            zout.writestr(zi, data)
            records.append(_record_line(name, data))
        if record_name is None:
            raise SystemExit(f"error: {src} has no .dist-info/RECORD; not a wheel")
        records.append(f"{record_name},,")
        zout.writestr(record_name, "\n".join(records) + "\n")
    os.replace(tmp, out)
    return out


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path, help="folder of wheels as pip downloaded them")
    parser.add_argument("dest", type=Path, help="folder for the slim wheels")
    parser.add_argument("--keep-models", default="bert,auto,encoder_decoder",
                        help="transformers model families to keep (auto imports encoder_decoder)")
    args = parser.parse_args(argv)
    wheels = sorted(args.src.glob("*.whl"))
    if not wheels:
        print(f"error: no wheels in {args.src}", file=sys.stderr)
        return 1
    args.dest.mkdir(parents=True, exist_ok=True)
    strip = shutil.which("strip")
    if strip is None:
        print("warning: no `strip` program; shared libraries are left unstripped", file=sys.stderr)
    models = {m.strip() for m in args.keep_models.split(",") if m.strip()}
    before = after = 0
    for whl in wheels:
        out = slim_wheel(whl, args.dest, models, strip)
        before += whl.stat().st_size
        after += out.stat().st_size
    print(f"{len(wheels)} wheels: {before / 2**20:.1f} MiB -> {after / 2**20:.1f} MiB in {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
