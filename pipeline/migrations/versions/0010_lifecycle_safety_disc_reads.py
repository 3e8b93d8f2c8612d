"""discs record when a verification was read from a real disc; disc items when they were decrypted and re-hashed

Revision ID: 0007_lifecycle_safety
Revises: 0007_review_kept
"""

from alembic import op
import sqlalchemy as sa


revision = '0007_lifecycle_safety'
down_revision = '0007_review_kept'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('discs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('medium_verified_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('disc_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checked_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('disc_items', schema=None) as batch_op:
        batch_op.drop_column('checked_at')
    with op.batch_alter_table('discs', schema=None) as batch_op:
        batch_op.drop_column('medium_verified_at')
