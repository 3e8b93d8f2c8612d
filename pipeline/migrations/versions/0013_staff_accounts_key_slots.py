"""staff accounts and their key slots

Revision ID: 0011_staff_accounts
Revises: 0011_disposal_approval
"""

from alembic import op
import sqlalchemy as sa


revision = '0011_staff_accounts'
down_revision = '0011_disposal_approval'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'staff_accounts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('created_by', sa.String(length=64), nullable=False),
        sa.Column('disabled_at', sa.DateTime(), nullable=True),
        sa.Column('must_change', sa.Boolean(), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(), nullable=True),
        sa.Column('locked_at', sa.DateTime(), nullable=True),
        sa.Column('last_login_at', sa.DateTime(), nullable=True),
        sa.CheckConstraint("role IN ('staff', 'manager')", name=op.f('ck_staff_accounts_role')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_accounts')),
        sa.UniqueConstraint('name', name=op.f('uq_staff_accounts_name')),
    )
    op.create_table(
        'key_slots',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('slot_version', sa.Integer(), nullable=False),
        sa.Column('record', sa.LargeBinary(), nullable=False),
        sa.Column('changed_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['staff_accounts.id'], name=op.f('fk_key_slots_account_id_staff_accounts')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_key_slots')),
        sa.UniqueConstraint('account_id', name=op.f('uq_key_slots_account_id')),
    )


def downgrade() -> None:
    op.drop_table('key_slots')
    op.drop_table('staff_accounts')
