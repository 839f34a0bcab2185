"""email logging: the outbox of messages logged to Salesforce, and the activity settings

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 14:25:41.939921
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('email_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('identifier', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('sf_object', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('sf_id', sqlmodel.sql.sqltypes.AutoString(length=18), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('sent_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('logged_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("state IN ('queued', 'pending', 'relating', 'sent', 'failed', 'excluded', 'skipped')", name=op.f('ck_email_log_state')),
    sa.ForeignKeyConstraint(['message_id'], ['message.id'], name=op.f('fk_email_log_message_id_message'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_email_log_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_log')),
    sa.UniqueConstraint('workspace_id', 'message_id', name='uq_email_log_message')
    )
    with op.batch_alter_table('email_log', schema=None) as batch_op:
        batch_op.create_index('ix_email_log_state', ['workspace_id', 'state'], unique=False)

    with op.batch_alter_table('sync_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_logging', sqlmodel.sql.sqltypes.AutoString(length=8), server_default='off', nullable=False))
        batch_op.add_column(sa.Column('email_exclusions', sa.JSON(), server_default=sa.text("'[]'"), nullable=False))
        batch_op.add_column(sa.Column('email_subject_only', sa.Boolean(), server_default=sa.text('(false)'), nullable=False))
        batch_op.create_check_constraint(op.f('ck_sync_settings_email_logging'), "email_logging IN ('off', 'request', 'auto')")



def downgrade() -> None:
    with op.batch_alter_table('sync_settings', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_sync_settings_email_logging'), type_='check')
        batch_op.drop_column('email_subject_only')
        batch_op.drop_column('email_exclusions')
        batch_op.drop_column('email_logging')

    with op.batch_alter_table('email_log', schema=None) as batch_op:
        batch_op.drop_index('ix_email_log_state')

    op.drop_table('email_log')
