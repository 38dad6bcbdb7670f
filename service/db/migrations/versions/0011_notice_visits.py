"""notice visits

The notice board says what is new since a key last looked at it: a row per key holds when that was
and, for a member, the ids of its profile's suggestions then. It dies with its key.

Revision ID: 0011
Revises: 0010
"""

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('notice_visits',
    sa.Column('key_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('visited_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seen_suggestions', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['key_id'], ['api_keys.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key_id')
    )


def downgrade() -> None:
    op.drop_table('notice_visits')
