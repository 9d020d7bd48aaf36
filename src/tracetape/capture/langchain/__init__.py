"""LangChain and LangGraph capture: a `BaseCallbackHandler` that records OTel spans."""

from tracetape.capture.langchain.handler import TracetapeCallbackHandler

__all__ = ["TracetapeCallbackHandler"]
