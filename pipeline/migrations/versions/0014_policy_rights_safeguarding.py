"""safeguarding records (concerns and disclosures, sealed to the case's key)

Revision ID: 0014_policy_rights
Revises: 0011_staff_accounts
"""

from alembic import op
import sqlalchemy as sa


revision = '0014_policy_rights'
down_revision = '0011_staff_accounts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'safeguarding_records',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('decided_by', sa.String(length=64), nullable=False),
        sa.Column('decided_on', sa.Date(), nullable=False),
        sa.Column('recorded_by', sa.String(length=64), nullable=False),
        sa.Column('recorded_at', sa.DateTime(), nullable=False),
        sa.Column('hold_id', sa.Integer(), nullable=True),
        sa.Column('sealed', sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("kind IN ('concern', 'disclosure')", name=op.f('ck_safeguarding_records_kind')),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_safeguarding_records_case_id_cases'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['hold_id'], ['holds.id'], name=op.f('fk_safeguarding_records_hold_id_holds')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_safeguarding_records')),
    )
    with op.batch_alter_table('safeguarding_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_safeguarding_records_case_id'), ['case_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('safeguarding_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_safeguarding_records_case_id'))
    op.drop_table('safeguarding_records')
