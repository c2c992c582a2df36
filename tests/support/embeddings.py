"""`HashEmbeddings`: a fixed pseudo-random vector per text — distinct scores, no model — and
`cosine`, the score a brute-force scan gives, for tests that check a ranking exactly."""

from __future__ import annotations

import hashlib

import numpy as np
from langchain_core.embeddings import Embeddings

DIMS = 16


def vector(text: str, dims: int = DIMS) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dims)


def cosine(a: str, b: str) -> float:
    va, vb = vector(a), vector(b)
    return float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))


class HashEmbeddings(Embeddings):
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [vector(t).tolist() for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return vector(text).tolist()
