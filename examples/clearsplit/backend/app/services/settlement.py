"""Who owes whom: expenses split equally, balances settled in the fewest payments."""

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Expense:
    paid_by: str
    amount: Decimal
    shared_by: tuple[str, ...]


@dataclass(frozen=True)
class Payment:
    debtor: str
    creditor: str
    amount: Decimal


def balances(expenses: list[Expense]) -> dict[str, Decimal]:
    """Each member's balance: positive is owed money, negative owes money. The cent a split
    cannot share evenly goes to the first members, so balances always sum to zero."""
    out: dict[str, Decimal] = {}
    for e in expenses:
        if not e.shared_by:
            raise ValueError("an expense must be shared by at least one member")
        share = (e.amount / len(e.shared_by)).quantize(CENT, rounding=ROUND_HALF_EVEN)
        remainder = e.amount - share * len(e.shared_by)
        out[e.paid_by] = out.get(e.paid_by, Decimal(0)) + e.amount
        for i, member in enumerate(e.shared_by):
            extra = CENT if i < int(abs(remainder) / CENT) else Decimal(0)
            owed = share + (extra if remainder > 0 else -extra)
            out[member] = out.get(member, Decimal(0)) - owed
    return out


def settle(expenses: list[Expense]) -> list[Payment]:
    """Payments that clear every balance: the largest debtor pays the largest creditor."""
    debtors = sorted((b, m) for m, b in balances(expenses).items() if b < 0)
    creditors = sorted(((-b, m) for m, b in balances(expenses).items() if b > 0))
    payments = []
    while debtors and creditors:
        debt, debtor = debtors.pop(0)
        credit, creditor = creditors.pop(0)
        amount = min(-debt, -credit)
        payments.append(Payment(debtor, creditor, amount))
        if -debt > amount:
            debtors.insert(0, (debt + amount, debtor))
        if -credit > amount:
            creditors.insert(0, (credit + amount, creditor))
    return payments
