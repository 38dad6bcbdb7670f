"""workspace sessions and sign-in attempts in the database

Signed-in browsers were held in one server process's memory: a restart signed everyone out, and a
second worker did not know the first one's sessions. A session is now a row (the SHA-256 of the
cookie's random token, the key it opened with, when it was opened, last seen and when it ends),
its one-time messages rows of their own, and failed workspace sign-ins are counted per client
address for the rate limit. Sessions held in memory before are gone: their users sign in again.

Revision ID: 0008
Revises: 0007
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('workspace_sessions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('key_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['key_id'], ['api_keys.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('workspace_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_workspace_sessions_key_id'), ['key_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_workspace_sessions_expires_at'), ['expires_at'], unique=False)

    op.create_table('workspace_flashes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('message', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['workspace_sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('workspace_flashes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_workspace_flashes_session_id'), ['session_id'], unique=False)

    op.create_table('sign_in_attempts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sign_in_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_attempts_attempted_at'), ['attempted_at'], unique=False)
        batch_op.create_index('ix_sign_in_attempts_client_attempted_at', ['client', 'attempted_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sign_in_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_sign_in_attempts_client_attempted_at')
        batch_op.drop_index(batch_op.f('ix_sign_in_attempts_attempted_at'))
    op.drop_table('sign_in_attempts')

    with op.batch_alter_table('workspace_flashes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_workspace_flashes_session_id'))
    op.drop_table('workspace_flashes')

    with op.batch_alter_table('workspace_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_workspace_sessions_expires_at'))
        batch_op.drop_index(batch_op.f('ix_workspace_sessions_key_id'))
    op.drop_table('workspace_sessions')
