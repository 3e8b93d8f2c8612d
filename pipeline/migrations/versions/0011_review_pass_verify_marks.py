"""verification marks carry a MAC under a key derived from the master key

Revision ID: 0011_review_pass
Revises: 0007_lifecycle_safety
"""

from alembic import op
import sqlalchemy as sa


revision = '0011_review_pass'
down_revision = '0007_lifecycle_safety'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('discs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('medium_mac', sa.String(length=64), nullable=True))
    with op.batch_alter_table('disc_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checked_mac', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('disc_items', schema=None) as batch_op:
        batch_op.drop_column('checked_mac')
    with op.batch_alter_table('discs', schema=None) as batch_op:
        batch_op.drop_column('medium_mac')
