"""documents record their cover sheet's decision, and the original bytes of a born-digital PDF

Revision ID: 0007_review_kept
Revises: 0007_crypto_keys
Create Date: 2026-12-01 09:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0007_review_kept'
down_revision = '0007_crypto_keys'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sheet_decision', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('original_item', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('original_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('original_ciphertext_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('original_size', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_documents_original_item'), ['original_item'])


def downgrade() -> None:
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_documents_original_item'), type_='unique')
        batch_op.drop_column('original_size')
        batch_op.drop_column('original_ciphertext_sha256')
        batch_op.drop_column('original_sha256')
        batch_op.drop_column('original_item')
        batch_op.drop_column('sheet_decision')
