"""The profiles' full-text index, in the database's own full-text search: SQLite FTS5, PostgreSQL `tsvector`.

What a search finds (the same on both databases, but for the two differences said below):

* Case and accents do not count: "sonar" finds "Sónar" and "sónar" finds "Sonar". The database
  folds them, SQLite's FTS5 with its `unicode61` tokenizer (`remove_diacritics 2`), PostgreSQL
  with the `unaccent` extension as a filter of the text search configuration `twinning_search`.
  Letters that carry no separable accent fold on PostgreSQL only: "tromso" finds "Tromsø" there,
  not on SQLite, whose tokenizer keeps "ø", "ł", "ß" and "æ" as they are.
* Every word of the query must be found in the profile's name, description, interests or offers
  (in any order), as the start of a word there ("light" finds "lighting"), after both are stemmed
  as English ("lights" finds "lighting" too, "cities" finds "city"): the Porter stemmer on SQLite,
  Snowball English (Porter's successor) on PostgreSQL, which differ on a few rare words. No word
  is a stop word: "city of light" needs "of".
* Joined and split words: a profile is indexed under its words and also under each two adjacent
  words written as one ("street lights" also as "streetlights"; words are adjacent when nothing
  but spaces, hyphens, apostrophes or slashes stand between them), so "streetlights" finds
  "street lights" and "egovernance" finds "e-governance". The other way round, a query word is
  also found when it and the query word before or after it, written as one, start a word of the
  profile: "street lights" finds "streetlights", "living labs" finds "livinglabs". Only two
  words are joined: "smartcitylab" does not find "smart city lab". A query word must start a
  word: "light" alone does not find "streetlights".

Results are filtered, not ranked: the caller orders them (the profile list orders by id, so a
cursor pages through matches stably). A search may look in names only (`names_only`): the name is
indexed apart from the rest, as an FTS5 column of its own, and as the lexemes of weight A of the
`tsvector` on PostgreSQL.

The index holds one row per profile, written by `index_profiles` whenever a profile's text is
written (create, replace, patch, bundle import) and deleted with the profile: by the foreign key's
cascade on PostgreSQL, by a trigger on SQLite (an FTS5 table has no foreign keys). The tables are
made by migration 0009 and live outside the SQLAlchemy models (`described_by_models` tells Alembic).
"""

import re
import unicodedata
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, Select, bindparam, column, false, func, literal_column, select, table, text
from sqlalchemy.orm import Session

from service.db.models import Profile

__all__ = [
    "TABLE",
    "search_document",
    "query_alternatives",
    "index_profiles",
    "matching_ids",
    "create_index",
    "drop_index",
    "rebuild_index",
    "described_by_models",
]

TABLE = "profile_search"
# PostgreSQL's text search configuration: words with accents folded, stemmed as English without stop words
CONFIGURATION = "twinning_search"
STEMMER = "twinning_english"
# rows written per statement: a bundle import indexes all its profiles at once
CHUNK = 500

WORD = re.compile(r"[^\W_]+")
# what ends a run of words that may be joined: any punctuation but hyphens, apostrophes and slashes
CLAUSE_BREAK = re.compile(r"[^\w\s'’/-]+")

search_table = table(TABLE, column("profile_id"), column("name"), column("document"))


def _words(text: str) -> list[str]:
    # composed first, so "o" + a combining accent is one letter and not a break between words
    return WORD.findall(unicodedata.normalize("NFC", text))


def search_document(texts: Iterable[str]) -> str:
    """The text a profile is indexed under: each text's words, then each two adjacent words as one.

    Adjacent words are joined within a text, never across texts or punctuation that ends a clause,
    so a phrase's last word and the next phrase's first are not run together.
    """
    words: list[str] = []
    joined: list[str] = []
    for one in texts:
        for clause in CLAUSE_BREAK.split(one):
            found = _words(clause)
            words.extend(found)
            joined.extend(a + b for a, b in zip(found, found[1:], strict=False))
    return " ".join(words + joined)


def query_alternatives(q: str) -> list[list[str]]:
    """Per query word, the words any of which may start a word of a matching profile: the word itself and
    it written together with the query word before it and with the one after it."""
    words = _words(q)
    return [
        [word, *([words[i - 1] + word] if i > 0 else []), *([word + words[i + 1]] if i + 1 < len(words) else [])]
        for i, word in enumerate(words)
    ]


def _fts5_query(alternatives: Sequence[Sequence[str]], names_only: bool) -> str:
    # every term a quoted prefix: words hold letters and digits only, so no quote needs escaping
    query = " AND ".join("(" + " OR ".join(f'"{term}"*' for term in terms) + ")" for terms in alternatives)
    return f"name : ({query})" if names_only else query


def _tsquery(alternatives: Sequence[Sequence[str]], names_only: bool) -> str:
    prefix = ":*A" if names_only else ":*"
    return " & ".join("(" + " | ".join(term + prefix for term in terms) + ")" for terms in alternatives)


def matching_ids(session: Session, q: str, *, names_only: bool = False) -> Select:
    """The ids of the profiles that `q` finds (in their names only, with `names_only`), as a subquery;
    none when `q` has no word."""
    alternatives = query_alternatives(q)
    if not alternatives:
        return select(Profile.id).where(false())
    if session.get_bind().dialect.name == "sqlite":
        query = _fts5_query(alternatives, names_only)
        return select(search_table.c.profile_id).where(literal_column(TABLE).op("MATCH")(bindparam("search", query)))
    query = _tsquery(alternatives, names_only)
    return select(search_table.c.profile_id).where(
        search_table.c.document.op("@@")(func.to_tsquery(CONFIGURATION, bindparam("search", query)))
    )


def _row(profile_id: str, name: str, texts: Iterable[str]) -> dict[str, str]:
    return {"profile_id": profile_id, "name": search_document([name]), "document": search_document(texts)}


def _write(connection: Connection, rows: Sequence[dict[str, str]]) -> None:
    """Replace the index rows of these profiles (`_row`s)."""
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        if connection.dialect.name == "sqlite":
            connection.execute(
                text(f"DELETE FROM {TABLE} WHERE profile_id IN :ids").bindparams(bindparam("ids", expanding=True)),
                {"ids": [r["profile_id"] for r in chunk]},
            )
            connection.execute(
                text(f"INSERT INTO {TABLE} (profile_id, name, document) VALUES (:profile_id, :name, :document)"),
                chunk,
            )
        else:
            connection.execute(
                text(
                    # the name's lexemes weigh A, so a search may ask for them alone
                    f"INSERT INTO {TABLE} (profile_id, document) VALUES (:profile_id,"
                    f" setweight(to_tsvector('{CONFIGURATION}', :name), 'A')"
                    f" || to_tsvector('{CONFIGURATION}', :document))"
                    " ON CONFLICT (profile_id) DO UPDATE SET document = excluded.document"
                ),
                chunk,
            )


def index_profiles(session: Session, profiles: Iterable[Profile]) -> None:
    """Index these profiles' text as it now stands (their rows must be flushed), within the caller's transaction."""
    rows = [_row(p.id, p.name, [p.description, *(phrase.text for phrase in p.phrases)]) for p in profiles]
    if rows:
        _write(session.connection(), rows)


def rebuild_index(connection: Connection) -> None:
    """Index every stored profile anew: what migration 0009 backfills with. Reads rows, not models, so it
    runs on the schema the migration sees."""
    names: dict[str, str] = {}
    texts: dict[str, list[str]] = {}
    for pid, name, description in connection.execute(text("SELECT id, name, description FROM profiles")):
        names[pid], texts[pid] = name, [description]
    for pid, phrase in connection.execute(
        text("SELECT profile_id, text FROM phrases ORDER BY profile_id, role, position")
    ):
        texts[pid].append(phrase)
    connection.execute(text(f"DELETE FROM {TABLE}"))
    _write(connection, [_row(pid, names[pid], texts[pid]) for pid in names])


def create_index(connection: Connection) -> None:
    """Make the index's tables (and, on PostgreSQL, the `unaccent` extension and the configuration)."""
    if connection.dialect.name == "sqlite":
        connection.execute(
            text(
                f"CREATE VIRTUAL TABLE {TABLE} USING fts5("
                "profile_id UNINDEXED, name, document, tokenize = 'porter unicode61 remove_diacritics 2')"
            )
        )
        connection.execute(
            text(
                f"CREATE TRIGGER {TABLE}_on_profile_delete AFTER DELETE ON profiles"
                f" BEGIN DELETE FROM {TABLE} WHERE profile_id = old.id; END"
            )
        )
        return
    # a trusted extension since PostgreSQL 13: a database owner may create it
    connection.execute(text("CREATE EXTENSION IF NOT EXISTS unaccent"))
    # english_stem less its stop words, which SQLite's tokenizer does not have either
    connection.execute(text(f"CREATE TEXT SEARCH DICTIONARY {STEMMER} (TEMPLATE = snowball, LANGUAGE = english)"))
    connection.execute(text(f"CREATE TEXT SEARCH CONFIGURATION {CONFIGURATION} (COPY = simple)"))
    connection.execute(
        text(
            f"ALTER TEXT SEARCH CONFIGURATION {CONFIGURATION} ALTER MAPPING FOR"
            " asciiword, asciihword, hword_asciipart, word, hword, hword_part, numword, numhword, hword_numpart"
            f" WITH unaccent, {STEMMER}"
        )
    )
    connection.execute(
        text(
            f"CREATE TABLE {TABLE} (profile_id VARCHAR(64) PRIMARY KEY"
            " REFERENCES profiles (id) ON DELETE CASCADE, document TSVECTOR NOT NULL)"
        )
    )
    connection.execute(text(f"CREATE INDEX ix_{TABLE}_document ON {TABLE} USING gin (document)"))


def drop_index(connection: Connection) -> None:
    """Undo `create_index`; the `unaccent` extension stays, as something else may use it."""
    if connection.dialect.name == "sqlite":
        connection.execute(text(f"DROP TRIGGER {TABLE}_on_profile_delete"))
        connection.execute(text(f"DROP TABLE {TABLE}"))
        return
    connection.execute(text(f"DROP TABLE {TABLE}"))
    connection.execute(text(f"DROP TEXT SEARCH CONFIGURATION {CONFIGURATION}"))
    connection.execute(text(f"DROP TEXT SEARCH DICTIONARY {STEMMER}"))


def described_by_models(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic's `include_name`: False for the index's tables (FTS5 makes shadow tables `profile_search_*`),
    which no model describes, so comparing the schema with the models leaves them out."""
    return not (type_ == "table" and name is not None and (name == TABLE or name.startswith(f"{TABLE}_")))
