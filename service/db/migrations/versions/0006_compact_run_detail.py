"""compact stored run detail

A run's stored suggestions keep their detail in a few bytes (`service.batch.stored_detail`, format 1)
instead of JSON: phrases are quoted by position in the run's phrases of each profile, stored once per
run in `run_phrases`. The suggestions' key is their primary key (the row id and the lookup index
go; SQLite keeps the rows in the key's b-tree).

Existing rows are migrated, run by run: each profile's phrases of a run are the ones its stored
suggestions quoted, in the order first met, so every migrated suggestion reads back as it was stored.
The downgrade writes the JSON back the same way.

Revision ID: 0006
Revises: 0005
"""

from alembic import op
import sqlalchemy as sa

from matching.explain import PhraseMatch
from matching.recommend import Suggestion
from service.batch.stored_detail import ROLE_LETTERS, RunPhraseList, decode_detail, encode_detail


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

CHUNK = 10_000

old_suggestions = sa.table(
    'run_suggestions',
    sa.column('id', sa.Integer()),
    sa.column('run_id', sa.Integer()),
    sa.column('profile_id', sa.String()),
    sa.column('target', sa.String()),
    sa.column('rank', sa.Integer()),
    sa.column('other_id', sa.String()),
    sa.column('score', sa.Float()),
    sa.column('detail', sa.JSON()),
)
run_phrases = sa.table(
    'run_phrases',
    sa.column('run_id', sa.Integer()),
    sa.column('profile_id', sa.String()),
    sa.column('texts', sa.JSON()),
    sa.column('roles', sa.Text()),
)


def _compact_columns() -> list:
    return [
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('profile_id', sa.String(length=64), nullable=False),
        sa.Column('target', sa.String(length=16), nullable=False),
        sa.Column('rank', sa.Integer(), nullable=False),
        sa.Column('other_id', sa.String(length=64), nullable=False),
        sa.Column('score', sa.Float(), nullable=False),
        sa.Column('detail', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('run_id', 'profile_id', 'target', 'rank', name='pk_run_suggestions'),
    ]


class _QuotedPhrases:
    """Each profile's phrases of one run as its stored suggestions quote them, in the order first met."""

    def __init__(self) -> None:
        self.phrases: dict[str, list[tuple[str, str]]] = {}

    def add(self, profile_id: str, text: str, role: str) -> None:
        listed = self.phrases.setdefault(profile_id, [])
        if (text, ROLE_LETTERS[role]) not in listed:
            listed.append((text, ROLE_LETTERS[role]))

    def of(self, profile_id: str) -> RunPhraseList:
        listed = self.phrases.get(profile_id, [])
        return RunPhraseList(tuple(t for t, _ in listed), ''.join(r for _, r in listed))


def _suggestion(other_id: str, score: float, d: dict) -> Suggestion:
    """A suggestion from its JSON detail, as the reader before this revision built it."""
    return Suggestion(
        key=other_id,
        score=score,
        dense=d['parts']['dense'],
        lexical=d['parts']['lexical'],
        forward=d['parts']['forward'],
        backward=d['parts']['backward'],
        matches=[PhraseMatch(**m) for m in d['matches']],
        shared_themes=d['shared_themes'],
        shared_terms=d['shared_terms'],
        handset=d['parts'].get('handset'),
        features=d.get('features', {}),
        contributions=d.get('contributions', {}),
    )


def _compact_run(conn, run_id: int, new_suggestions: sa.Table) -> None:
    quoted = _QuotedPhrases()
    last = -1
    while True:
        rows = conn.execute(
            sa.select(old_suggestions)
            .where(old_suggestions.c.run_id == run_id, old_suggestions.c.id > last)
            .order_by(old_suggestions.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            break
        out = []
        for row in rows:
            s = _suggestion(row.other_id, row.score, row.detail)
            for m in s.matches:
                needer, server = (row.other_id, row.profile_id) if m.direction == 'backward' else (row.profile_id, row.other_id)
                quoted.add(needer, m.need, m.need_role)
                quoted.add(server, m.match, m.match_role)
            detail = encode_detail(s, asking=quoted.of(row.profile_id), candidate=quoted.of(row.other_id))
            out.append({c: getattr(row, c) for c in ('run_id', 'profile_id', 'target', 'rank', 'other_id', 'score')} | {'detail': detail})
        conn.execute(sa.insert(new_suggestions), out)
        last = rows[-1].id
    phrases = [{'run_id': run_id, 'profile_id': p, 'texts': list(q.texts), 'roles': q.roles} for p, q in ((p, quoted.of(p)) for p in quoted.phrases)]
    if phrases:
        conn.execute(sa.insert(run_phrases), phrases)


def upgrade() -> None:
    op.create_table('run_phrases',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('profile_id', sa.String(length=64), nullable=False),
    sa.Column('texts', sa.JSON(), nullable=False),
    sa.Column('roles', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'profile_id')
    )
    compact = op.create_table('run_suggestions_compact', *_compact_columns(), sqlite_with_rowid=False)
    conn = op.get_bind()
    for run_id in conn.scalars(sa.select(old_suggestions.c.run_id).distinct().order_by(old_suggestions.c.run_id)).all():
        _compact_run(conn, run_id, compact)
    op.drop_table('run_suggestions')
    op.rename_table('run_suggestions_compact', 'run_suggestions')


def _json_detail(s: Suggestion) -> dict:
    """The JSON detail the writer before this revision stored."""
    return {
        'parts': {'dense': s.dense, 'lexical': s.lexical, 'forward': s.forward, 'backward': s.backward, 'handset': s.handset},
        'features': s.features,
        'contributions': s.contributions,
        'matches': [m.__dict__ for m in s.matches],
        'shared_themes': s.shared_themes,
        'shared_terms': s.shared_terms,
    }


def downgrade() -> None:
    json_suggestions = op.create_table('run_suggestions_json',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('profile_id', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=16), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('other_id', sa.String(length=64), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    compact = sa.table('run_suggestions', *(sa.column(c.name, c.type) for c in _compact_columns() if isinstance(c, sa.Column)))
    conn = op.get_bind()
    for run_id in conn.scalars(sa.select(compact.c.run_id).distinct().order_by(compact.c.run_id)).all():
        lists = {
            p: RunPhraseList(tuple(texts), roles)
            for p, texts, roles in conn.execute(sa.select(run_phrases.c.profile_id, run_phrases.c.texts, run_phrases.c.roles).where(run_phrases.c.run_id == run_id))
        }
        empty = RunPhraseList((), '')
        key = (compact.c.profile_id, compact.c.target, compact.c.rank)
        last = None
        while True:
            query = sa.select(compact).where(compact.c.run_id == run_id).order_by(*key).limit(CHUNK)
            if last is not None:
                query = query.where(sa.tuple_(*key) > sa.tuple_(*last))
            rows = conn.execute(query).all()
            if not rows:
                break
            out = [
                {c: getattr(row, c) for c in ('run_id', 'profile_id', 'target', 'rank', 'other_id', 'score')}
                | {'detail': _json_detail(decode_detail(row.detail, key=row.other_id, score=row.score, asking=lists.get(row.profile_id, empty), candidate=lists.get(row.other_id, empty)))}
                for row in rows
            ]
            conn.execute(sa.insert(json_suggestions), out)
            last = (rows[-1].profile_id, rows[-1].target, rows[-1].rank)
    op.drop_table('run_suggestions')
    op.drop_table('run_phrases')
    op.rename_table('run_suggestions_json', 'run_suggestions')
    with op.batch_alter_table('run_suggestions', schema=None) as batch_op:
        batch_op.create_index('ix_run_suggestions_lookup', ['run_id', 'profile_id', 'target'], unique=False)
