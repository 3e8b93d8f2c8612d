"""disposal plans: a prepared disposal run, its hash, who prepared and who approved it

Revision ID: 0011_disposal_approval
Revises: 0011_review_pass
"""

from alembic import op
import sqlalchemy as sa


revision = '0011_disposal_approval'
down_revision = '0011_review_pass'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('disposal_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('plan', sa.Text(), nullable=False),
    sa.Column('approvers_required', sa.Integer(), nullable=False),
    sa.Column('prepared_by', sa.String(length=64), nullable=False),
    sa.Column('prepared_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('approved_by', sa.String(length=64), nullable=True),
    sa.Column('approved_at', sa.DateTime(), nullable=True),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('executed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['disposal_runs.id'], name=op.f('fk_disposal_plans_run_id_disposal_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disposal_plans'))
    )


def downgrade() -> None:
    op.drop_table('disposal_plans')
