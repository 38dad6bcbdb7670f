"""shortlists with notes

A profile's shortlist: the profiles its member (or a manager) saved from its suggestions, each with
a free-text note. An entry goes with either profile's row (foreign keys cascade); the domain's
references rules keep a member from deleting a profile that is on another profile's shortlist.

Revision ID: 0010
Revises: 0009
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('shortlist_entries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('profile_id', sa.String(length=64), nullable=False),
    sa.Column('other_id', sa.String(length=64), nullable=False),
    sa.Column('note', sa.String(length=1000), nullable=True),
    sa.Column('saved_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['other_id'], ['profiles.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['profile_id'], ['profiles.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('profile_id', 'other_id', name='uq_shortlist_entry')
    )
    with op.batch_alter_table('shortlist_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shortlist_entries_other_id'), ['other_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_shortlist_entries_profile_id'), ['profile_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('shortlist_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shortlist_entries_profile_id'))
        batch_op.drop_index(batch_op.f('ix_shortlist_entries_other_id'))
    op.drop_table('shortlist_entries')
