"""disc rounds: discs presented one at a time, over several sittings, for a disposal run or a read-back

Revision ID: 0014_disc_plan
Revises: 0014_policy_rights
"""

from alembic import op
import sqlalchemy as sa


revision = '0014_disc_plan'
down_revision = '0014_policy_rights'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'disc_rounds',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('purpose', sa.String(length=16), nullable=False),
        sa.Column('opened_by', sa.String(length=64), nullable=False),
        sa.Column('opened_at', sa.DateTime(), nullable=False),
        sa.Column('closed_at', sa.DateTime(), nullable=True),
        sa.Column('closed_because', sa.Text(), nullable=True),
        sa.CheckConstraint("purpose IN ('dispose', 'verify')", name=op.f('ck_disc_rounds_purpose')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_disc_rounds')),
    )
    op.create_table(
        'presented_discs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('label', sa.String(length=32), nullable=False),
        sa.Column('items', sa.Integer(), nullable=False),
        sa.Column('index_sha256', sa.String(length=64), nullable=False),
        sa.Column('case_dates', sa.Text(), nullable=False),
        sa.Column('read_from', sa.String(length=8), nullable=False),
        sa.Column('presented_by', sa.String(length=64), nullable=False),
        sa.Column('presented_at', sa.DateTime(), nullable=False),
        sa.Column('times', sa.Integer(), nullable=False),
        sa.Column('mac', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(['round_id'], ['disc_rounds.id'], name=op.f('fk_presented_discs_round_id_disc_rounds')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_presented_discs')),
        sa.UniqueConstraint('round_id', 'label', name='round_label'),
    )
    with op.batch_alter_table('presented_discs') as batch:
        batch.create_index(batch.f('ix_presented_discs_round_id'), ['round_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('presented_discs') as batch:
        batch.drop_index(batch.f('ix_presented_discs_round_id'))
    op.drop_table('presented_discs')
    op.drop_table('disc_rounds')
