"""Package a trained pipeline with ``spacy package`` under an exact name (``nerbert_<domain>``).

``spacy package`` names a package ``<meta.lang>_<meta.name>`` (its generated
``setup.py`` always joins the two), so ``en_`` would be prepended to any name.
To get exactly ``nerbert_politics`` the packaging meta says ``lang: "nerbert"``,
``name: "politics"``; loading is unaffected because ``spacy.load`` builds the
pipeline from ``config.cfg`` (``[nlp] lang = "en"``), and the package's own
``load()`` only joins the same two fields to find its data folder.

The meta also records the labels and scores (from the trained pipeline's
``meta.json``), the encoder (``components.transformer.model.name``), the data
sources and the licence.
"""
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Union

import srsly

from ..errors import NerbertError, require_dir


def split_package_name(name: str) -> (str, str):
    """``"nerbert_politics"`` -> ``("nerbert", "politics")`` (the meta's lang and name)."""
    prefix, sep, rest = name.partition("_")
    if not sep or not prefix or not rest or not name.isidentifier():
        raise NerbertError(f"package name {name!r} must look like 'prefix_rest' and be a Python identifier")
    return prefix, rest


def parse_source(text: str) -> Dict[str, str]:
    """``"CrossNER politics|https://github.com/zliucr/CrossNER|MIT"`` -> a spaCy meta source dict."""
    parts = [p.strip() for p in text.split("|")]
    keys = ("name", "url", "license", "author")
    if not parts[0] or len(parts) > len(keys):
        raise NerbertError(f"data source {text!r} must be 'name|url|license[|author]'")
    return {k: v for k, v in zip(keys, parts) if v}


def encoder_of(model_dir: Union[str, Path]) -> Optional[str]:
    """The transformer name/path in the pipeline's config, if it has a transformer."""
    from spacy.util import load_config

    cfg = load_config(Path(model_dir) / "config.cfg", interpolate=False)
    for comp in cfg.get("components", {}).values():
        model = comp.get("model", {}) if isinstance(comp, dict) else {}
        if isinstance(model, dict) and "name" in model and "spacy-transformers" in str(model.get("@architectures", "")):
            return str(model["name"])
    return None


def package_meta(
    model_dir: Union[str, Path],
    *,
    name: str,
    version: str = "0.0.1",
    description: Optional[str] = None,
    license: str = "MIT",
    sources: Iterable[Union[str, Dict[str, str]]] = (),
    encoder: Optional[str] = None,
    metrics: Optional[Union[str, Path]] = None,
) -> Dict[str, Any]:
    """The ``meta.json`` to give ``spacy package --meta-path`` for package ``name``.

    model_dir (str | Path): Trained pipeline folder (with ``meta.json`` and ``config.cfg``).
    name (str): Exact package name, e.g. ``"nerbert_politics"``.
    version (str): Package version.
    description (Optional[str]): Free text; a default names the encoder and labels.
    license (str): Licence of the pipeline.
    sources (Iterable[str | Dict]): Data sources (``"name|url|license"`` or meta dicts).
    encoder (Optional[str]): Encoder name (default: read from ``config.cfg``).
    metrics (Optional[str | Path]): JSON written by ``nerbert evaluate``; its
        ``f1``/``precision``/``recall`` go into ``performance`` as ``test_*``.
    RETURNS (Dict[str, Any]): The meta.
    """
    model_dir = require_dir(model_dir, "pipeline folder")
    meta_path = model_dir / "meta.json"
    meta: Dict[str, Any] = srsly.read_json(meta_path) if meta_path.exists() else {}
    lang, short = split_package_name(name)
    encoder = encoder or encoder_of(model_dir) or "none"
    labels = sorted({lab for labs in (meta.get("labels") or {}).values() for lab in labs})
    meta.update(
        {
            "lang": lang,
            "name": short,
            "version": version,
            "license": license,
            "sources": [parse_source(s) if isinstance(s, str) else dict(s) for s in sources],
        }
    )
    meta["description"] = description or (
        f"NER-BERT pipeline {name}: transformer encoder ({encoder}) + linear BIO head; "
        f"{len(labels)} entity types."
    )
    meta["nerbert"] = {"encoder": encoder, "entity_types": labels, "package": name}
    notes = [f"Encoder: {encoder}."]
    perf = dict(meta.get("performance") or {})
    if "ents_f" in perf:
        notes.append(f"Entity F1 on the development set: {perf['ents_f']:.4f}.")
    if metrics is not None:
        from ..errors import require_file
        from ..export.base import read_json

        result = read_json(require_file(metrics, "metrics file"))
        if not isinstance(result, dict) or not isinstance(result.get("f1"), (int, float)):
            raise NerbertError("metrics file has no numeric 'f1' (expected the output of nerbert evaluate)", metrics)
        for key in ("f1", "precision", "recall"):
            if isinstance(result.get(key), (int, float)):
                perf[f"test_{key}"] = float(result[key])
        metric = result.get("metric", "F1")
        notes.append(f"Test {metric}: {result['f1']:.4f} on {result.get('test', 'the test set')}.")
    meta["performance"] = perf
    notes.append("Needs the `nerbert-spacy` package installed (it provides the bio_tagger component).")
    meta["notes"] = " ".join(notes)
    reqs = list(meta.get("requirements") or [])
    if not any(r.replace("_", "-").startswith("nerbert-spacy") for r in reqs):
        reqs.append("nerbert-spacy")
    meta["requirements"] = reqs
    return meta


def build_package(
    model_dir: Union[str, Path],
    output_dir: Union[str, Path],
    *,
    name: str,
    version: str = "0.0.1",
    description: Optional[str] = None,
    license: str = "MIT",
    sources: Iterable[Union[str, Dict[str, str]]] = (),
    encoder: Optional[str] = None,
    metrics: Optional[Union[str, Path]] = None,
    build: str = "sdist",
) -> Dict[str, Any]:
    """Write the meta and run ``python -m spacy package`` (``--force``).

    RETURNS (Dict[str, Any]): ``package_dir`` (the package folder, pip-installable)
        and ``artifacts`` (built sdist/wheel files).
    """
    model_dir = require_dir(model_dir, "pipeline folder")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    meta = package_meta(
        model_dir, name=name, version=version, description=description, license=license, sources=sources,
        encoder=encoder, metrics=metrics,
    )
    with tempfile.TemporaryDirectory() as tmp:
        meta_path = Path(tmp) / "meta.json"
        srsly.write_json(meta_path, meta)
        cmd = [
            sys.executable, "-m", "spacy", "package", str(model_dir), str(output_dir),
            "--meta-path", str(meta_path), "--force", "--build", build,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        raise NerbertError(f"spacy package failed: {' | '.join(tail)}", model_dir)
    package_dir = output_dir / f"{name}-{version}"
    artifacts: List[str] = sorted(str(p) for p in (package_dir / "dist").glob("*")) if (package_dir / "dist").is_dir() else []
    return {"package_dir": str(package_dir), "artifacts": artifacts, "meta": meta}
