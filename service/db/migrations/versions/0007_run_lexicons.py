"""run lexicons, profiles by update time

Each run stores the TF-IDF statistics it scored with, so the live index can take them on and score a
pair's lexical part as the run did. Runs stored before have none: the live index keeps its own fit
until a run that has them becomes current. Profiles are indexed by `updated_at`: a batch-served list
looks up the candidates changed since its run.

Revision ID: 0007
Revises: 0006
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('run_lexicons',
    sa.Column('run_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('statistics', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id')
    )
    op.create_index(op.f('ix_profiles_updated_at'), 'profiles', ['updated_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_profiles_updated_at'), table_name='profiles')
    op.drop_table('run_lexicons')
