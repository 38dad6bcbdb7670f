"""profile search index

The profile list's search was a case-folded substring match (`LIKE`): "sonar" missed "Sónar" and
"street lights" missed "streetlights". It is now the database's own full-text search, indexed per
profile (`service.db.search` says what a query finds): an FTS5 table on SQLite (the name a column
of its own), a `tsvector` column with a GIN index on PostgreSQL (the name's lexemes of weight A),
where accents are folded by the `unaccent` extension (created here if missing; PostgreSQL 13 and
later let a database owner create it). Every stored profile is indexed now.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

from service.db.search import create_index, drop_index, rebuild_index


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_index(op.get_bind())
    rebuild_index(op.get_bind())


def downgrade() -> None:
    drop_index(op.get_bind())
