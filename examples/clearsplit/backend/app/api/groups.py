"""The groups API: expenses in, settlements out."""

from decimal import Decimal, InvalidOperation

from ..services.settlement import Expense, settle

GROUPS: dict[str, list[Expense]] = {}


def add_expense(group: str, body: dict) -> dict:
    try:
        amount = Decimal(str(body["amount"]))
        expense = Expense(str(body["paid_by"]), amount, tuple(map(str, body["shared_by"])))
    except (KeyError, TypeError, InvalidOperation) as e:
        raise ValueError(f"an expense needs paid_by, amount and shared_by ({e})") from e
    if amount <= 0:
        raise ValueError("amount must be positive")
    GROUPS.setdefault(group, []).append(expense)
    return {"group": group, "expenses": len(GROUPS[group])}


def settlements(group: str) -> list[dict]:
    return [
        {"from": p.debtor, "to": p.creditor, "amount": str(p.amount)}
        for p in settle(GROUPS.get(group, []))
    ]
