"""rw-notes: a tiny notes page on PostgreSQL, for Archipelago's real-app tests.

  notes.py serve     serves the page on $PORT (default 8080): GET / lists the notes,
                     POST / with form field `text` adds one, GET /schema names the applied
                     migrations (one per line)
  notes.py migrate   creates the app's role and database through $ADMIN_URL when it is set (the
                     role's password is the one in $DATABASE_URL, set again each time), then
                     applies the migrations up to $SCHEMA_LEVEL (default 1); idempotent
  notes.py drop      drops the app's database and role through $ADMIN_URL (before a purge)

All read the app's database from $DATABASE_URL (postgres://user:password@host:port/db).
"""

import html
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import parse_dsn

MIGRATIONS = [
    ("1-notes", "CREATE TABLE notes (id serial PRIMARY KEY, text text NOT NULL)"),
    ("2-created", "ALTER TABLE notes ADD COLUMN created timestamptz NOT NULL DEFAULT now()"),
]


def connect(variable="DATABASE_URL"):
    # The database may still be starting when a container starts: retry for a while.
    deadline = time.monotonic() + 120
    while True:
        try:
            return psycopg2.connect(os.environ[variable])
        except psycopg2.OperationalError as error:
            if time.monotonic() > deadline:
                raise SystemExit(f"notes: cannot reach the database: {error}")
            time.sleep(1)


def admin(statements):
    """Runs statements (a function of the app's role, password and database) as the administrator."""
    app = parse_dsn(os.environ["DATABASE_URL"])
    db = connect("ADMIN_URL")
    # CREATE/DROP DATABASE cannot run in a transaction, and `with db` would open one (psycopg2 2.9).
    db.autocommit = True
    try:
        with db.cursor() as cur:
            for statement in statements(sql.Identifier(app["user"]), app["password"], app["dbname"]):
                cur.execute(*statement)
    finally:
        db.close()


def provision(role, password, name):
    yield (sql.SQL("DO $$BEGIN CREATE ROLE {} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END$$").format(role),)
    yield (sql.SQL("ALTER ROLE {} PASSWORD %s").format(role), (password,))
    yield from create_database(role, name)


def create_database(role, name):
    with connect("ADMIN_URL") as db, db.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        exists = cur.fetchone() is not None
    if not exists:
        yield (sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), role),)


def drop(role, _password, name):
    yield (sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)),)
    yield (sql.SQL("DROP ROLE IF EXISTS {}").format(role),)


def migrate():
    if os.environ.get("ADMIN_URL"):
        admin(provision)
    level = int(os.environ.get("SCHEMA_LEVEL", "1"))
    with connect() as db, db.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS migrations (name text PRIMARY KEY)")
        cur.execute("SELECT name FROM migrations")
        done = {row[0] for row in cur.fetchall()}
        for name, sql in MIGRATIONS[:level]:
            if name not in done:
                cur.execute(sql)
                cur.execute("INSERT INTO migrations VALUES (%s)", (name,))
                print(f"notes: applied {name}", flush=True)
    print(f"notes: schema at level {level}", flush=True)


class Page(BaseHTTPRequestHandler):
    def reply(self, status, body, kind="text/html; charset=utf-8"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with connect() as db, db.cursor() as cur:
            if self.path == "/schema":
                cur.execute("SELECT name FROM migrations ORDER BY name")
                return self.reply(200, "".join(f"{r[0]}\n" for r in cur.fetchall()), "text/plain")
            cur.execute("SELECT text FROM notes ORDER BY id")
            items = "".join(f"<li>{html.escape(r[0])}</li>" for r in cur.fetchall())
        self.reply(200, f"<!doctype html><title>notes</title><ul>{items}</ul>"
                   '<form method="post"><input name="text"><button>add</button></form>')

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        text = parse_qs(self.rfile.read(length).decode()).get("text", [""])[0]
        if not text:
            return self.reply(400, "notes: the form field text is empty\n", "text/plain")
        with connect() as db, db.cursor() as cur:
            cur.execute("INSERT INTO notes (text) VALUES (%s)", (text,))
        self.send_response(303)
        self.send_header("Location", "./")
        self.send_header("Content-Length", "0")
        self.end_headers()


def serve():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    HTTPServer(("", int(os.environ.get("PORT", "8080"))), Page).serve_forever()


if __name__ == "__main__":
    {"serve": serve, "migrate": migrate, "drop": lambda: admin(drop)}[sys.argv[1] if len(sys.argv) > 1 else "serve"]()
