"""The demo agent's tools: FAQ search (through the retriever), a calculator, orders."""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable

from langchain_core.tools import BaseTool, tool
from langchain_core.vectorstores import VectorStoreRetriever

from tracetape.demo.knowledge import ORDERS

_OPERATORS: dict[type[ast.AST], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


class OrderNotFoundError(LookupError):
    """The demo shop has no order with that id (the demo's deliberate tool error)."""


def evaluate(expression: str) -> float:
    """Evaluate ``+ - * /`` arithmetic on numbers, without ``eval``.

    Example:
        >>> evaluate("3 * 12.50")
        37.5
    """

    def walk(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        raise ValueError(f"unsupported expression: {expression!r}")

    return walk(ast.parse(expression, mode="eval"))


def make_tools(retriever: VectorStoreRetriever) -> list[BaseTool]:
    """The three tools, ``search_docs`` bound to ``retriever``."""

    @tool
    def search_docs(query: str) -> str:
        """Search the shop's FAQ; returns the best matching entries, one per line."""
        documents = retriever.invoke(query)
        return "\n".join(f"{doc.id}: {doc.page_content}" for doc in documents)

    @tool
    def calculator(expression: str) -> str:
        """Evaluate an arithmetic expression such as '3 * 12.50'."""
        value = evaluate(expression)
        return f"{value:g}"

    @tool
    def lookup_order(order_id: str) -> str:
        """Look up an order's status, carrier and expected delivery date by its id."""
        order = ORDERS.get(order_id)
        if order is None:
            raise OrderNotFoundError(f"no order {order_id!r} in the shop's records")
        return (
            f"order {order_id}: {order['status']}, carrier {order['carrier']}, eta {order['eta']}"
        )

    return [search_docs, calculator, lookup_order]
