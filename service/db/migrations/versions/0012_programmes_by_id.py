"""programmes by id

Partnerships and cohorts refer to a programme row instead of matching a programme's name string,
and a partnership belongs to the cohort whose pairing it is. The programme names partnerships
carry become programmes; a cohort takes the programme most of the partnerships crossing its sides
belong to (a tie goes to the one named as the cohort, then to the first by name), and those
partnerships of its programme become its own, cohorts taken by id. The downgrade writes each
partnership's programme name back.

Revision ID: 0012
Revises: 0011
"""

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('programmes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    with op.batch_alter_table('cohorts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('programme_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_cohorts_programme_id'), ['programme_id'], unique=False)
        batch_op.create_foreign_key('fk_cohorts_programme_id', 'programmes', ['programme_id'], ['id'],
                                    ondelete='SET NULL')
    with op.batch_alter_table('partnerships', schema=None) as batch_op:
        batch_op.add_column(sa.Column('programme_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('cohort_id', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_partnerships_programme_id'), ['programme_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_partnerships_cohort_id'), ['cohort_id'], unique=False)
        batch_op.create_foreign_key('fk_partnerships_programme_id', 'programmes', ['programme_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_foreign_key('fk_partnerships_cohort_id', 'cohorts', ['cohort_id'], ['id'],
                                    ondelete='SET NULL')

    conn = op.get_bind()
    conn.execute(sa.text(
        "INSERT INTO programmes (name) SELECT DISTINCT programme FROM partnerships WHERE programme IS NOT NULL"
    ))
    conn.execute(sa.text(
        "UPDATE partnerships SET programme_id = (SELECT id FROM programmes WHERE programmes.name = partnerships.programme)"
    ))
    programme_names = dict(conn.execute(sa.text("SELECT id, name FROM programmes")).all())
    partnerships = conn.execute(sa.text("SELECT id, a, b, programme_id FROM partnerships ORDER BY id")).all()
    taken: set[int] = set()
    for cohort_id, cohort_name in conn.execute(sa.text("SELECT id, name FROM cohorts ORDER BY id")).all():
        side = dict(conn.execute(
            sa.text("SELECT profile_id, side FROM cohort_members WHERE cohort_id = :c"), {"c": cohort_id}
        ).all())
        crossing = [p for p in partnerships if p.a in side and p.b in side and side[p.a] != side[p.b]]
        counts: dict[int, int] = {}
        for p in crossing:
            if p.programme_id is not None:
                counts[p.programme_id] = counts.get(p.programme_id, 0) + 1
        if not counts:
            continue
        chosen = min(counts, key=lambda i: (-counts[i], programme_names[i] != cohort_name, programme_names[i]))
        conn.execute(sa.text("UPDATE cohorts SET programme_id = :p WHERE id = :c"), {"p": chosen, "c": cohort_id})
        for p in crossing:
            if p.programme_id == chosen and p.id not in taken:
                taken.add(p.id)
                conn.execute(sa.text("UPDATE partnerships SET cohort_id = :c WHERE id = :i"), {"c": cohort_id, "i": p.id})

    with op.batch_alter_table('partnerships', schema=None) as batch_op:
        batch_op.drop_column('programme')


def downgrade() -> None:
    with op.batch_alter_table('partnerships', schema=None) as batch_op:
        batch_op.add_column(sa.Column('programme', sa.String(length=200), nullable=True))
    op.get_bind().execute(sa.text(
        "UPDATE partnerships SET programme = (SELECT name FROM programmes WHERE programmes.id = partnerships.programme_id)"
    ))
    with op.batch_alter_table('partnerships', schema=None) as batch_op:
        batch_op.drop_constraint('fk_partnerships_cohort_id', type_='foreignkey')
        batch_op.drop_constraint('fk_partnerships_programme_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_partnerships_cohort_id'))
        batch_op.drop_index(batch_op.f('ix_partnerships_programme_id'))
        batch_op.drop_column('cohort_id')
        batch_op.drop_column('programme_id')
    with op.batch_alter_table('cohorts', schema=None) as batch_op:
        batch_op.drop_constraint('fk_cohorts_programme_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_cohorts_programme_id'))
        batch_op.drop_column('programme_id')
    op.drop_table('programmes')
