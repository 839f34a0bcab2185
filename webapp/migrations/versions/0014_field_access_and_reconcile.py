"""field access of the connected Salesforce user per object, and the id-only reconciliation
of records purged from the Recycle Bin (its own run trigger, its time per object)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 17:00:00.000000
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

OLD_TRIGGERS = "('daily', 'interval', 'connect', 'manual', 'push', 'errors', 'cli', 'cli_errors', 'retry')"
NEW_TRIGGERS = "('daily', 'interval', 'connect', 'manual', 'push', 'errors', 'cli', 'cli_errors', 'retry', 'reconcile')"


def upgrade() -> None:
    op.create_table('salesforce_field_access',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('sobject', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('sf_user_id', sqlmodel.sql.sqltypes.AutoString(length=18), nullable=True),
    sa.Column('available', sa.Boolean(), nullable=False),
    sa.Column('readable', sa.JSON(), nullable=False),
    sa.Column('createable', sa.JSON(), nullable=False),
    sa.Column('updateable', sa.JSON(), nullable=False),
    sa.Column('relationships', sa.JSON(), nullable=False),
    sa.Column('checked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_salesforce_field_access_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_salesforce_field_access')),
    sa.UniqueConstraint('workspace_id', 'sobject', name='uq_salesforce_field_access_object')
    )
    with op.batch_alter_table('sync_cursor', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_reconciled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    with op.batch_alter_table('sync_run', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_sync_run_trigger'), type_='check')
        batch_op.create_check_constraint(op.f('ck_sync_run_trigger'), f'"trigger" IN {NEW_TRIGGERS}')


def downgrade() -> None:
    op.execute("DELETE FROM sync_run WHERE \"trigger\" = 'reconcile'")
    with op.batch_alter_table('sync_run', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_sync_run_trigger'), type_='check')
        batch_op.create_check_constraint(op.f('ck_sync_run_trigger'), f'"trigger" IN {OLD_TRIGGERS}')
    with op.batch_alter_table('sync_cursor', schema=None) as batch_op:
        batch_op.drop_column('last_reconciled_at')
    op.drop_table('salesforce_field_access')
