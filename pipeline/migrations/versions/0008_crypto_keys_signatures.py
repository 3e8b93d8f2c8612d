"""wrapped keys carry the signing key's signature over their public half

Revision ID: 0007_crypto_keys
Revises: 0007_audit_backup
Create Date: 2026-12-01 09:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0007_crypto_keys'
down_revision = '0007_audit_backup'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('wrapped_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signature', sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('wrapped_keys', schema=None) as batch_op:
        batch_op.drop_column('signature')
