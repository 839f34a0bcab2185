"""sync runs: retries after an interruption (link, attempt, backoff), the interrupted status,
and a trigger of its own for each way a run starts

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 10:00:00.000000
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

OLD_TRIGGERS = "('daily', 'interval', 'manual', 'cli', 'retry')"
NEW_TRIGGERS = "('daily', 'interval', 'connect', 'manual', 'push', 'errors', 'cli', 'cli_errors', 'retry')"
OLD_STATUSES = "('queued', 'running', 'succeeded', 'paused', 'failed')"
NEW_STATUSES = "('queued', 'running', 'succeeded', 'paused', 'failed', 'interrupted')"


def _checks(batch_op, triggers: str, statuses: str) -> None:
    batch_op.drop_constraint(op.f('ck_sync_run_trigger'), type_='check')
    batch_op.drop_constraint(op.f('ck_sync_run_status'), type_='check')
    batch_op.create_check_constraint(op.f('ck_sync_run_trigger'), f'"trigger" IN {triggers}')
    batch_op.create_check_constraint(op.f('ck_sync_run_status'), f'status IN {statuses}')


def upgrade() -> None:
    with op.batch_alter_table('sync_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retry_of_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('retry_attempt', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('retry_limit', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('not_before', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.create_foreign_key(op.f('fk_sync_run_retry_of_id_sync_run'), 'sync_run', ['retry_of_id'], ['id'],
                                    ondelete='SET NULL')
        _checks(batch_op, NEW_TRIGGERS, NEW_STATUSES)
    # 'retry' meant a retry of failed records: by an admin's button, or by the command (no user).
    op.execute("UPDATE sync_run SET \"trigger\" = 'errors' WHERE \"trigger\" = 'retry' AND requested_by_id IS NOT NULL")
    op.execute("UPDATE sync_run SET \"trigger\" = 'cli_errors' WHERE \"trigger\" = 'retry'")


def downgrade() -> None:
    op.execute("UPDATE sync_run SET \"trigger\" = 'daily' WHERE \"trigger\" IN ('connect', 'retry')")
    op.execute("UPDATE sync_run SET \"trigger\" = 'manual' WHERE \"trigger\" = 'push'")
    op.execute("UPDATE sync_run SET \"trigger\" = 'retry' WHERE \"trigger\" IN ('errors', 'cli_errors')")
    op.execute("UPDATE sync_run SET status = 'failed' WHERE status = 'interrupted'")
    with op.batch_alter_table('sync_run', schema=None) as batch_op:
        _checks(batch_op, OLD_TRIGGERS, OLD_STATUSES)
        batch_op.drop_constraint(op.f('fk_sync_run_retry_of_id_sync_run'), type_='foreignkey')
        batch_op.drop_column('not_before')
        batch_op.drop_column('retry_limit')
        batch_op.drop_column('retry_attempt')
        batch_op.drop_column('retry_of_id')
