"""partnership acceptance time

Revision ID: 0003
Revises: 0002
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('partnerships', schema=None) as batch_op:
        batch_op.add_column(sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('partnerships', schema=None) as batch_op:
        batch_op.drop_column('accepted_at')

