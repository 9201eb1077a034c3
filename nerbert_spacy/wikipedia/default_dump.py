"""The embedded default dump: a real 206-page fragment of English Wikipedia that
the gensim 4.3.3 wheel carries as test data. :func:`fetch_default_dump` downloads
the wheel with pip, takes the fragment out of it and checks its MD5."""
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, List, Optional, Union

from ..errors import NerbertError
from ..util import atomic_path

DEFAULT_DUMP = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
DEFAULT_DUMP_IN_WHEEL = f"gensim/test/test_data/{DEFAULT_DUMP}"
DEFAULT_DUMP_MD5 = "55899abfb7caa0e50d2665787fa4afca"
GENSIM_REQUIREMENT = "gensim==4.3.3"


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def fetch_default_dump(
    outdir: Union[str, Path], *, pip_runner: Optional[Callable[[List[str]], int]] = None
) -> Path:
    """Download the gensim 4.3.3 wheel with pip and extract the Wikipedia fragment into ``outdir``.

    A file already there with the right MD5 is kept and pip is not run.

    outdir (str | Path): Destination folder.
    pip_runner (Optional[Callable[[List[str]], int]]): Runs a command, returns its exit code
        (tests replace it); default: subprocess.
    RETURNS (Path): The extracted dump.
    """
    dest = Path(outdir) / DEFAULT_DUMP
    if dest.exists() and _md5(dest.read_bytes()) == DEFAULT_DUMP_MD5:
        return dest
    with tempfile.TemporaryDirectory(prefix="nerbert-gensim-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", GENSIM_REQUIREMENT, "--no-deps", "--only-binary=:all:", "-d", tmp]
        if pip_runner is None:
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            except OSError as err:
                raise NerbertError(f"could not run pip ({err}); download {GENSIM_REQUIREMENT} yourself") from err
            code, detail = proc.returncode, (proc.stderr or proc.stdout).strip().splitlines()[-1:]
        else:
            code, detail = pip_runner(cmd), []
        if code != 0:
            hint = f" ({detail[0]})" if detail else ""
            raise NerbertError(
                f"`pip download {GENSIM_REQUIREMENT}` failed{hint}; check the network / package index, "
                f"or copy {DEFAULT_DUMP} into {outdir} yourself"
            )
        wheels = sorted(Path(tmp).glob("gensim-*.whl"))
        if not wheels:
            raise NerbertError(f"pip reported success but left no gensim wheel in {tmp}")
        try:
            with zipfile.ZipFile(wheels[0]) as wheel:
                data = wheel.read(DEFAULT_DUMP_IN_WHEEL)
        except (zipfile.BadZipFile, KeyError) as err:
            raise NerbertError(f"the wheel has no readable {DEFAULT_DUMP_IN_WHEEL} ({err})", wheels[0]) from err
    if _md5(data) != DEFAULT_DUMP_MD5:
        raise NerbertError(
            f"{DEFAULT_DUMP_IN_WHEEL} in the {GENSIM_REQUIREMENT} wheel is not the expected file "
            f"(MD5 {_md5(data)}, expected {DEFAULT_DUMP_MD5})"
        )
    with atomic_path(dest) as tmp_dest:
        tmp_dest.write_bytes(data)
    return dest
