"""pair decisions with consent and makers

Proposals get a table of their own (a proposal is not a partnership); a partnership records whether
both sides' members agreed to it, and who proposed it; an exclusion records its maker. Rows from
before are agreed partnerships held by managers, and exclusions whose maker is unknown (NULL):
only managers may remove either. Key labels are up to 200 characters, so the columns holding them
are widened from 64.

Revision ID: 0005
Revises: 0004
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('partnership_proposals',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('a', sa.String(length=64), nullable=False),
    sa.Column('b', sa.String(length=64), nullable=False),
    sa.Column('proposer', sa.String(length=64), nullable=False),
    sa.Column('proposed_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['a'], ['profiles.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['b'], ['profiles.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('a', 'b', name='uq_partnership_proposal_pair')
    )
    with op.batch_alter_table('partnership_proposals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partnership_proposals_a'), ['a'], unique=False)
        batch_op.create_index(batch_op.f('ix_partnership_proposals_b'), ['b'], unique=False)

    with op.batch_alter_table('partnerships', schema=None) as batch_op:
        batch_op.alter_column('accepted_by', existing_type=sa.String(length=64), type_=sa.String(length=200),
                              existing_nullable=True)
        batch_op.add_column(sa.Column('members_agreed', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('proposer', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('proposed_by', sa.String(length=200), nullable=True))

    with op.batch_alter_table('exclusions', schema=None) as batch_op:
        batch_op.alter_column('created_by', existing_type=sa.String(length=64), type_=sa.String(length=200),
                              existing_nullable=True)
        batch_op.add_column(sa.Column('maker', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('maker_role', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('exclusions', schema=None) as batch_op:
        batch_op.drop_column('maker_role')
        batch_op.drop_column('maker')
        batch_op.alter_column('created_by', existing_type=sa.String(length=200), type_=sa.String(length=64),
                              existing_nullable=True)

    with op.batch_alter_table('partnerships', schema=None) as batch_op:
        batch_op.drop_column('proposed_by')
        batch_op.drop_column('proposer')
        batch_op.drop_column('members_agreed')
        batch_op.alter_column('accepted_by', existing_type=sa.String(length=200), type_=sa.String(length=64),
                              existing_nullable=True)

    with op.batch_alter_table('partnership_proposals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partnership_proposals_b'))
        batch_op.drop_index(batch_op.f('ix_partnership_proposals_a'))

    op.drop_table('partnership_proposals')
