"""discs record their image file, whether they carry error-correction data, when and where they
were burnt, and which disc they replace

Revision ID: 0014_disc_burn
Revises: 0014_disc_plan
"""

from alembic import op
import sqlalchemy as sa


revision = '0014_disc_burn'
down_revision = '0014_disc_plan'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('discs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('image_path', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('ecc', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('burnt_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('burnt_to', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('replaces', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('discs', schema=None) as batch_op:
        batch_op.drop_column('replaces')
        batch_op.drop_column('burnt_to')
        batch_op.drop_column('burnt_at')
        batch_op.drop_column('ecc')
        batch_op.drop_column('image_path')
