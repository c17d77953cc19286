"""A realistic 1 GiB model folder for the export benchmark: random weight shards plus compressible files."""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path

MIB = 1 << 20
TOTAL_BYTES = 1 << 30
CHUNK_BYTES = 8 * MIB
# (relative path, kind, MiB); the last file is sized so that the folder holds exactly TOTAL_BYTES.
LAYOUT = (
    ("model-00001-of-00003.safetensors", "random", 300),
    ("model-00002-of-00003.safetensors", "random", 300),
    ("model-00003-of-00003.safetensors", "random", 264),
    ("optimizer/state.bin", "sparse", 64),
    ("tokenizer/tokenizer.json", "text", 48),
    ("tokenizer/vocab.txt", "text", 8),
    ("config.json", "text", 0),
    ("logs/metrics.csv", "text", None),
)
SMALL_BYTES = 4096  # the size of a file listed with 0 MiB


def _text_block(seed: int) -> bytes:
    """One MiB of varied, compressible text (JSON-like lines of tokens and numbers).

    :param seed: makes the block reproducible.
    """
    rng = random.Random(seed)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(4000)]
    lines, size = [], 0
    while size < MIB:
        line = f'{{"token": "{rng.choice(words)}", "id": {rng.randint(0, 250_000)}, "score": {rng.random():.6f}}}\n'
        lines.append(line)
        size += len(line)
    return "".join(lines).encode()[:MIB]


def _sparse_block() -> bytes:
    """One MiB alternating 64 KiB stripes of zeros and random bytes (like a partly zero optimizer state)."""
    stripe = 64 * 1024
    return b"".join(bytes(stripe) if i % 2 else os.urandom(stripe) for i in range(MIB // stripe))


def _write(path: Path, kind: str, size: int) -> str:
    """Write ``size`` bytes of one kind to path and return their sha256.

    :param path: the file to create.
    :param kind: random, sparse or text.
    :param size: bytes.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    texts = [_text_block(seed) for seed in range(4)] if kind == "text" else []
    written = 0
    with path.open("wb") as out:
        while written < size:
            if kind == "random":
                block = os.urandom(min(CHUNK_BYTES, size - written))
            elif kind == "sparse":
                block = _sparse_block()
            else:
                block = texts[(written // MIB) % len(texts)]
            block = block[: size - written]
            out.write(block)
            digest.update(block)
            written += len(block)
    return digest.hexdigest()


def make_model_folder(root: Path) -> dict[str, tuple[int, str]]:
    """Generate the folder under root and return relative path -> (size in bytes, sha256).

    :param root: an empty folder.
    """
    sizes = {name: (SMALL_BYTES if mib == 0 else (mib or 0) * MIB) for name, _kind, mib in LAYOUT}
    last = LAYOUT[-1][0]
    sizes[last] = TOTAL_BYTES - sum(sizes.values())
    return {name: (sizes[name], _write(root / name, kind, sizes[name])) for name, kind, _mib in LAYOUT}
