"""initial schema

Revision ID: 0001
Revises: 
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('profile_id', sa.String(length=64), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash')
    )
    op.create_table('cohorts',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('profiles',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('bloc', sa.String(length=32), nullable=False),
    sa.Column('org_type', sa.String(length=32), nullable=True),
    sa.Column('city', sa.String(length=64), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('profiles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_profiles_bloc'), ['bloc'], unique=False)
        batch_op.create_index(batch_op.f('ix_profiles_country'), ['country'], unique=False)
        batch_op.create_index(batch_op.f('ix_profiles_kind'), ['kind'], unique=False)

    op.create_table('vector_cache',
    sa.Column('model_id', sa.String(length=200), nullable=False),
    sa.Column('text_hash', sa.String(length=64), nullable=False),
    sa.Column('vector', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('model_id', 'text_hash')
    )
    op.create_table('cohort_members',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('cohort_id', sa.String(length=64), nullable=False),
    sa.Column('side', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('profile_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['cohort_id'], ['cohorts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['profile_id'], ['profiles.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('cohort_id', 'profile_id', name='uq_cohort_member')
    )
    with op.batch_alter_table('cohort_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cohort_members_cohort_id'), ['cohort_id'], unique=False)

    op.create_table('exclusions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('a', sa.String(length=64), nullable=False),
    sa.Column('b', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['a'], ['profiles.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['b'], ['profiles.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('a', 'b', name='uq_exclusion_pair')
    )
    with op.batch_alter_table('exclusions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exclusions_a'), ['a'], unique=False)
        batch_op.create_index(batch_op.f('ix_exclusions_b'), ['b'], unique=False)

    op.create_table('partnerships',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('a', sa.String(length=64), nullable=False),
    sa.Column('b', sa.String(length=64), nullable=False),
    sa.Column('programme', sa.String(length=200), nullable=True),
    sa.Column('themes', sa.JSON(), nullable=False),
    sa.Column('accepted_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['a'], ['profiles.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['b'], ['profiles.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('a', 'b', name='uq_partnership_pair')
    )
    with op.batch_alter_table('partnerships', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partnerships_a'), ['a'], unique=False)
        batch_op.create_index(batch_op.f('ix_partnerships_b'), ['b'], unique=False)

    op.create_table('phrases',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('profile_id', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('text', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['profile_id'], ['profiles.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('phrases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_phrases_profile_id'), ['profile_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('phrases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_phrases_profile_id'))

    op.drop_table('phrases')
    with op.batch_alter_table('partnerships', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partnerships_b'))
        batch_op.drop_index(batch_op.f('ix_partnerships_a'))

    op.drop_table('partnerships')
    with op.batch_alter_table('exclusions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exclusions_b'))
        batch_op.drop_index(batch_op.f('ix_exclusions_a'))

    op.drop_table('exclusions')
    with op.batch_alter_table('cohort_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cohort_members_cohort_id'))

    op.drop_table('cohort_members')
    op.drop_table('vector_cache')
    with op.batch_alter_table('profiles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_profiles_kind'))
        batch_op.drop_index(batch_op.f('ix_profiles_country'))
        batch_op.drop_index(batch_op.f('ix_profiles_bloc'))

    op.drop_table('profiles')
    op.drop_table('cohorts')
    op.drop_table('api_keys')
