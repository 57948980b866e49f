"""`python -m unittest discover -s tests` in backend/."""

import unittest
from decimal import Decimal

from app.services.settlement import Expense, balances, settle


class SettlementTest(unittest.TestCase):
    def test_balances_sum_to_zero_even_when_cents_do_not_split(self) -> None:
        b = balances([Expense("ana", Decimal("10.00"), ("ana", "ben", "cy"))])
        self.assertEqual(sum(b.values()), Decimal(0))
        self.assertEqual(b["ana"], Decimal("6.66"))

    def test_settle_clears_every_balance(self) -> None:
        expenses = [
            Expense("ana", Decimal("90"), ("ana", "ben", "cy")),
            Expense("ben", Decimal("30"), ("ben", "cy")),
        ]
        payments = settle(expenses)
        left = balances(expenses)
        for p in payments:
            left[p.debtor] += p.amount
            left[p.creditor] -= p.amount
        self.assertTrue(all(v == 0 for v in left.values()), left)
        self.assertEqual(len(payments), 2)


if __name__ == "__main__":
    unittest.main()
