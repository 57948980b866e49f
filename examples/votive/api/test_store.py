"""`python -m unittest` in api/."""

import unittest

from votive_api.store import Store


class StoreTest(unittest.TestCase):
    def test_votes_count_until_the_poll_closes(self) -> None:
        store = Store(":memory:")
        poll = store.create("Pizza on Friday?")
        store.vote(poll["id"], "yes")
        store.vote(poll["id"], "no")
        store.vote(poll["id"], "yes")
        store.close(poll["id"])
        with self.assertRaises(KeyError):
            store.vote(poll["id"], "no")
        [only] = store.polls(closed=True)
        self.assertEqual((only["yes"], only["no"]), (2, 1))

    def test_a_blank_question_or_choice_is_refused(self) -> None:
        store = Store(":memory:")
        with self.assertRaises(ValueError):
            store.create("   ")
        poll = store.create("Tea?")
        with self.assertRaises(ValueError):
            store.vote(poll["id"], "maybe")


if __name__ == "__main__":
    unittest.main()
