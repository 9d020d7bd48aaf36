"""The demo's knowledge: a tiny product FAQ, its vector store and retriever, and orders.

The embeddings are LangChain's `DeterministicFakeEmbedding` (vectors seeded by a hash of
the text), so ranking is arbitrary but the same on every machine and every run.
"""

from __future__ import annotations

from typing import Final

from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.vectorstores import InMemoryVectorStore, VectorStoreRetriever

FAQ: Final[tuple[tuple[str, str, str], ...]] = (
    ("faq-shipping", "shipping", "Shipping to Canada takes 5 to 7 business days and costs $9."),
    ("faq-express", "shipping", "Express shipping within the US arrives in 2 business days."),
    (
        "faq-returns",
        "returns",
        "Returns are free within 30 days; print the label from your account.",
    ),
    (
        "faq-refunds",
        "refunds",
        "Refunds reach your card 3 to 5 business days after we receive a return.",
    ),
    (
        "faq-warranty",
        "warranty",
        "Every mug and kettle has a 2 year warranty against cracks and leaks.",
    ),
    ("faq-payment", "payment", "We accept Visa, Mastercard, PayPal and gift cards."),
    ("faq-care", "care", "Mugs are dishwasher safe; kettles should be rinsed by hand."),
    (
        "faq-orders",
        "orders",
        "Order ids look like A-1042; use them to ask about an order's status.",
    ),
)
"""(id, topic, text) of every FAQ entry."""

ORDERS: Final[dict[str, dict[str, str]]] = {
    "A-1042": {"status": "shipped", "carrier": "CanadaPost", "eta": "2025-03-14"},
    "A-1043": {"status": "processing", "carrier": "-", "eta": "2025-03-18"},
    "B-2001": {"status": "delivered", "carrier": "UPS", "eta": "2025-03-02"},
}
"""The demo shop's orders by id."""

EMBEDDING_SIZE: Final = 64
SEARCH_K: Final = 3


def build_retriever() -> VectorStoreRetriever:
    """A similarity retriever (k=3) over the FAQ in an in-memory vector store."""
    store = InMemoryVectorStore(DeterministicFakeEmbedding(size=EMBEDDING_SIZE))
    store.add_documents(
        [
            Document(id=ident, page_content=text, metadata={"topic": topic})
            for ident, topic, text in FAQ
        ]
    )
    return store.as_retriever(search_type="similarity", search_kwargs={"k": SEARCH_K})
