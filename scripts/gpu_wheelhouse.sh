#!/usr/bin/env bash
# Wheelhouse for the lent GPU machine (docs/scale.md, "GPU"): cp312 x86-64 wheels of what
# spaCy + spacy-transformers need and the machine's image lacks (or has in an incompatible
# version: transformers 5, tokenizers 0.23, huggingface-hub 1.x). Never torch: the machine's
# own CUDA build is used. Versions are the ones this project is tested with here.
#
#   bash scripts/gpu_wheelhouse.sh [DEST]      # default .gpu/wheels (ignored by git)
#
# pip downloads into .gpu/cache/wheels (72 MiB, stays here); scripts/slim_wheels.py writes the
# slim copies that travel (about 20 MiB: no tests or C sources, stripped libraries, LZMA).
# On the machine: python3 -m pip install -q --no-index --no-deps --no-compile \
#   --target .gpu/site .gpu/wheels/*.whl  and  PYTHONPATH=$PWD/.gpu/site:$PWD
set -euo pipefail

DEST="${1:-.gpu/wheels}"
RAW=.gpu/cache/wheels
HERE="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$RAW"

# Binary wheels for CPython 3.12 on manylinux x86-64 (pip matches each glibc tag exactly,
# so several are listed).
PLATFORMS=(
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
  --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64
)
PACKAGES=(
  # spaCy and its compiled helpers
  spacy==3.8.18 thinc==8.3.14 blis==1.3.4 cymem==2.0.16 preshed==3.0.15 murmurhash==1.0.16
  srsly==2.5.6 wasabi==1.1.3 catalogue==2.0.10 confection==1.3.4 weasel==1.0.1
  spacy-legacy==3.0.12 spacy-loggers==1.0.5 cloudpathlib==0.26.0 smart-open==9.0.2
  pydantic==2.13.4 pydantic-core==2.46.4 annotated-types==0.7.0 typing-inspection==0.4.2
  # spacy-transformers and the transformers 4.x line it accepts (< 4.53.3)
  spacy-transformers==1.4.0 spacy-alignments==0.9.3
  transformers==4.53.2 tokenizers==0.21.4 huggingface-hub==0.36.2
)

python3 -m pip download --quiet --no-deps --only-binary=:all: \
  --python-version 3.12 --implementation cp --abi cp312 --abi abi3 --abi none \
  "${PLATFORMS[@]}" -d "$RAW" "${PACKAGES[@]}"

# seqeval (nerbert evaluate) is published as an sdist only: build its pure-Python wheel here.
if ! ls "$RAW"/seqeval-*.whl >/dev/null 2>&1; then
  python3 -m pip wheel --quiet --no-deps --no-build-isolation -w "$RAW" seqeval==1.2.2
fi

# One version of each package, or the install on the machine stops.
dups=$(ls "$RAW"/*.whl | xargs -n1 basename | cut -d- -f1 | tr 'A-Z-' 'a-z_' | sort | uniq -d)
if [ -n "$dups" ]; then
  echo "error: several versions in $RAW of: $dups (delete the older wheels)" >&2
  exit 1
fi
rm -rf "$DEST"
python3 "$HERE/slim_wheels.py" "$RAW" "$DEST"
echo "$(ls "$DEST"/*.whl | wc -l) wheels, $(du -sh "$DEST" | cut -f1) in $DEST"
