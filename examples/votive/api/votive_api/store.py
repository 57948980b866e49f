"""Polls and votes in SQLite."""

import sqlite3
import threading


class Store:
    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS polls ("
                " id INTEGER PRIMARY KEY, question TEXT NOT NULL,"
                " yes INTEGER NOT NULL DEFAULT 0, no INTEGER NOT NULL DEFAULT 0,"
                " closed INTEGER NOT NULL DEFAULT 0)"
            )

    def polls(self, closed: bool | None = None) -> list[dict]:
        query = "SELECT id, question, yes, no, closed FROM polls"
        args: tuple = ()
        if closed is not None:
            query += " WHERE closed = ?"
            args = (int(closed),)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY id", args).fetchall()
        return [
            {"id": i, "question": q, "yes": y, "no": n, "closed": bool(c)}
            for i, q, y, n, c in rows
        ]

    def create(self, question: str) -> dict:
        question = question.strip()
        if not question:
            raise ValueError("question is required")
        with self._lock, self._db:
            cur = self._db.execute("INSERT INTO polls (question) VALUES (?)", (question,))
        return {"id": cur.lastrowid, "question": question, "yes": 0, "no": 0, "closed": False}

    def vote(self, poll_id: int, choice: str) -> None:
        if choice not in ("yes", "no"):
            raise ValueError("choice must be 'yes' or 'no'")
        with self._lock, self._db:
            cur = self._db.execute(
                f"UPDATE polls SET {choice} = {choice} + 1 WHERE id = ? AND closed = 0",
                (poll_id,),
            )
        if cur.rowcount == 0:
            raise KeyError(poll_id)

    def close(self, poll_id: int) -> None:
        with self._lock, self._db:
            self._db.execute("UPDATE polls SET closed = 1 WHERE id = ?", (poll_id,))
