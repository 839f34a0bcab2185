"""two-way for deals from now on, and the incidents admins are told about (webhook)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 16:47:39.425470
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

TRIGGERS = ('daily', 'interval', 'connect', 'manual', 'push', 'errors', 'cli', 'cli_errors', 'retry', 'reconcile')


def upgrade() -> None:
    op.create_table('notification_incident',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('opened_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('notified_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('closed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.CheckConstraint("kind IN ('sync', 'reconnect')", name=op.f('ck_notification_incident_kind')),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_notification_incident_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_incident'))
    )
    with op.batch_alter_table('notification_incident', schema=None) as batch_op:
        batch_op.create_index('uq_notification_incident_open', ['workspace_id', 'kind'], unique=True, sqlite_where=sa.text('closed_at IS NULL'), postgresql_where=sa.text('closed_at IS NULL'))

    with op.batch_alter_table('sync_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('two_way_since', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('notify_webhook_enc', sa.Text(), nullable=True))

    # A run queued by "Log" on a conversation says so, instead of passing for Sync Now.
    with op.batch_alter_table('sync_run', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_sync_run_trigger'), type_='check')
        batch_op.create_check_constraint(op.f('ck_sync_run_trigger'), f'"trigger" IN {TRIGGERS + ("log",)}')



def downgrade() -> None:
    op.execute("UPDATE sync_run SET \"trigger\" = 'manual' WHERE \"trigger\" = 'log'")
    with op.batch_alter_table('sync_run', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_sync_run_trigger'), type_='check')
        batch_op.create_check_constraint(op.f('ck_sync_run_trigger'), f'"trigger" IN {TRIGGERS}')

    with op.batch_alter_table('sync_settings', schema=None) as batch_op:
        batch_op.drop_column('notify_webhook_enc')
        batch_op.drop_column('two_way_since')

    with op.batch_alter_table('notification_incident', schema=None) as batch_op:
        batch_op.drop_index('uq_notification_incident_open', sqlite_where=sa.text('closed_at IS NULL'), postgresql_where=sa.text('closed_at IS NULL'))

    op.drop_table('notification_incident')
