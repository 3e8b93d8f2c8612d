"""audit seals: keyed checkpoints of the audit chain

Revision ID: 0007_audit_backup
Revises: 0006
"""

from alembic import op
import sqlalchemy as sa


revision = '0007_audit_backup'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_seals',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('mac', sa.String(length=64), nullable=False),
    sa.Column('at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_seals'))
    )
    with op.batch_alter_table('audit_head', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sealed_seq', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('sealed_mac', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('audit_head', schema=None) as batch_op:
        batch_op.drop_column('sealed_mac')
        batch_op.drop_column('sealed_seq')
    op.drop_table('audit_seals')
