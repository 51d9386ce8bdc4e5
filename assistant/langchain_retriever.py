"""The hybrid retriever as a LangChain `BaseRetriever`, for use in other people's chains."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LangchainDocument
from langchain_core.retrievers import BaseRetriever


class ZhengwuRetriever(BaseRetriever):
    """Wraps `assistant.retrieval.HybridRetriever`; each document's metadata carries the citation
    fields (doc_id, title, section, effective_date, source_url …) and the fused score."""

    retriever: Any
    k: int = 8
    filters: Any = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LangchainDocument]:
        passages = self.retriever.retrieve(query, k=self.k, filters=self.filters)
        return [
            LangchainDocument(page_content=p.text, metadata={**p.metadata, "score": p.score, "chunk_id": p.chunk_id})
            for p in passages
        ]
