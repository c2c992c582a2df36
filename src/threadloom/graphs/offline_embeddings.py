"""Embedding models that work offline, named in langgraph.json as `"threadloom:<name>"`.

`wordllama` (the `memory` extra): WordLlama's `l2_supercat` static token embeddings, whose
weights (16 MB) and tokenizer ship inside the `wordllama` wheel, so nothing is downloaded at run
time and no API key is needed. Measured on this project's machines: 0.5 s to import and load,
~60 MB of memory, ~0.07 ms to embed a sentence on one core, and it ranks the right memory first
for everyday questions ("where does the user live?" → "I live in Lisbon"). Why this one: the
other packaged candidates need PyTorch (hundreds of MB) or fetch their weights from a hub.
Its vectors have 256 dimensions (`"threadloom:wordllama"`); `"threadloom:wordllama-64"` and
`-128` truncate them (matryoshka), for smaller indexes. `dims` in langgraph.json must match.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from threadloom.graphs.errors import ProjectError

WORDLLAMA_DIMS = {"wordllama": 256, "wordllama-256": 256, "wordllama-128": 128, "wordllama-64": 64}

_models: dict[int, Any] = {}
_lock = threading.Lock()


def _wordllama(dims: int) -> Any:
    with _lock:
        model = _models.get(dims)
        if model is None:
            import wordllama
            from wordllama import WordLlama

            # the wheel carries weights and tokenizer; pointing its cache at the package finds
            # both without a download (its own lookup misses the tokenizer folder)
            model = WordLlama.load(
                cache_dir=Path(wordllama.__file__).parent,
                disable_download=True,
                trunc_dim=dims if dims != 256 else None,
            )
            _models[dims] = model
        return model


class WordLlamaEmbeddings(Embeddings):
    """LangChain `Embeddings` over WordLlama, unit-normalised (cosine = dot product)."""

    def __init__(self, dims: int = 256) -> None:
        self.dims = dims
        self._model = _wordllama(dims)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return [list(map(float, v)) for v in self._model.embed(texts, norm=True)]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def builtin_embeddings(name: str, where: str) -> Embeddings:
    dims = WORDLLAMA_DIMS.get(name)
    if dims is None:
        raise ProjectError(
            f"{where}: unknown built-in model; Threadloom has "
            + ", ".join(f"threadloom:{n}" for n in WORDLLAMA_DIMS)
        )
    try:
        return WordLlamaEmbeddings(dims)
    except ImportError:
        raise ProjectError(
            f"{where}: needs the `wordllama` package: pip install 'threadloom[memory]'"
        ) from None
    except FileNotFoundError as exc:
        raise ProjectError(f"{where}: the wordllama package has no weights ({exc})") from None
