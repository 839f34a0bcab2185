"""mailboxes: IMAP and SMTP settings of a workspace's mailboxes, and how far each folder was read

Revision ID: 0016
Revises: 0019
Create Date: 2026-12-01 16:46:29.001118
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0016'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mailbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('display_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('imap_host', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('imap_port', sa.Integer(), nullable=False),
    sa.Column('imap_security', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('imap_username', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('imap_password_enc', sa.Text(), nullable=False),
    sa.Column('inbox_folder', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('sent_folder', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('imap_pinned_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('smtp_host', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('smtp_port', sa.Integer(), nullable=False),
    sa.Column('smtp_security', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('smtp_same_as_imap', sa.Boolean(), nullable=False),
    sa.Column('smtp_username', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('smtp_password_enc', sa.Text(), nullable=True),
    sa.Column('smtp_pinned_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('fetch_interval_minutes', sa.Integer(), nullable=False),
    sa.Column('backfill_days', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('fetch_requested_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('fetch_lease_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('last_fetch_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('last_success_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_error_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('last_summary', sa.JSON(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("imap_security IN ('tls', 'starttls')", name=op.f('ck_mailbox_imap_security')),
    sa.CheckConstraint("smtp_security IN ('tls', 'starttls')", name=op.f('ck_mailbox_smtp_security')),
    sa.CheckConstraint('backfill_days >= 0', name=op.f('ck_mailbox_backfill_days')),
    sa.CheckConstraint('fetch_interval_minutes >= 1', name=op.f('ck_mailbox_fetch_interval')),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_mailbox_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mailbox')),
    sa.UniqueConstraint('workspace_id', 'address', name=op.f('uq_mailbox_workspace_id_address'))
    )
    with op.batch_alter_table('mailbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mailbox_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('mailbox_folder',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mailbox_id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('uidvalidity', sa.BigInteger(), nullable=True),
    sa.Column('last_uid', sa.BigInteger(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('to_read', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('stored', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('last_skip', sa.Text(), nullable=True),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("role IN ('inbox', 'sent')", name=op.f('ck_mailbox_folder_role')),
    sa.CheckConstraint("state IN ('new', 'backfill', 'current')", name=op.f('ck_mailbox_folder_state')),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailbox.id'], name=op.f('fk_mailbox_folder_mailbox_id_mailbox'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_mailbox_folder_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mailbox_folder')),
    sa.UniqueConstraint('mailbox_id', 'role', name=op.f('uq_mailbox_folder_mailbox_id_role'))
    )
    with op.batch_alter_table('mailbox_folder', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mailbox_folder_mailbox_id'), ['mailbox_id'], unique=False)
        batch_op.create_index('ix_mailbox_folder_workspace', ['workspace_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('mailbox_folder', schema=None) as batch_op:
        batch_op.drop_index('ix_mailbox_folder_workspace')
        batch_op.drop_index(batch_op.f('ix_mailbox_folder_mailbox_id'))

    op.drop_table('mailbox_folder')
    with op.batch_alter_table('mailbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mailbox_workspace_id'))

    op.drop_table('mailbox')
