"""consent to be identified to the Local Authority, archiving scans, appointments

Revision ID: 0014_policy_reports
Revises: 0014_disc_burn
"""

from alembic import op
import sqlalchemy as sa


revision = '0014_policy_reports'
down_revision = '0014_disc_burn'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('la_identify', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('la_identify_on', sa.Date(), nullable=True))
    with op.batch_alter_table('documents') as batch:
        batch.add_column(sa.Column('archiving', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        'appointments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('starts_at', sa.DateTime(), nullable=False),
        sa.Column('ends_at', sa.DateTime(), nullable=False),
        sa.Column('place', sa.String(length=120), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('booked_by', sa.String(length=64), nullable=False),
        sa.Column('booked_at', sa.DateTime(), nullable=False),
        sa.Column('cancelled_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['account_id'], ['staff_accounts.id'], name=op.f('fk_appointments_account_id_staff_accounts')),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_appointments_case_id_cases'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_appointments')),
    )
    op.create_index(op.f('ix_appointments_account_id'), 'appointments', ['account_id'], unique=False)
    op.create_index(op.f('ix_appointments_starts_at'), 'appointments', ['starts_at'], unique=False)
    op.create_index(op.f('ix_appointments_case_id'), 'appointments', ['case_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_appointments_case_id'), table_name='appointments')
    op.drop_index(op.f('ix_appointments_starts_at'), table_name='appointments')
    op.drop_index(op.f('ix_appointments_account_id'), table_name='appointments')
    op.drop_table('appointments')
    with op.batch_alter_table('documents') as batch:
        batch.drop_column('archiving')
    with op.batch_alter_table('cases') as batch:
        batch.drop_column('la_identify_on')
        batch.drop_column('la_identify')
