"""replies: replies sent from conversations over SMTP, and whether a mailbox's SMTP server files sent mail itself

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 16:58:39.573355
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('reply',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('mailbox_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('message_row_id', sa.Integer(), nullable=True),
    sa.Column('token', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('from_address', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('to_addresses', sa.Text(), nullable=False),
    sa.Column('cc_addresses', sa.Text(), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=998), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('message_id', sqlmodel.sql.sqltypes.AutoString(length=998), nullable=False),
    sa.Column('in_reply_to', sqlmodel.sql.sqltypes.AutoString(length=998), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('error_kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('refused', sa.Text(), nullable=False),
    sa.Column('filed', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('filed_error', sa.Text(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('sent_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.CheckConstraint("filed IN ('pending', 'filed', 'failed', 'server', 'none')", name=op.f('ck_reply_filed')),
    sa.CheckConstraint("state IN ('sending', 'sent', 'failed')", name=op.f('ck_reply_state')),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'], name=op.f('fk_reply_conversation_id_conversation'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailbox.id'], name=op.f('fk_reply_mailbox_id_mailbox'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['message_row_id'], ['message.id'], name=op.f('fk_reply_message_row_id_message'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_reply_user_id_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_reply_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reply')),
    sa.UniqueConstraint('workspace_id', 'token', name=op.f('uq_reply_workspace_id_token'))
    )
    with op.batch_alter_table('reply', schema=None) as batch_op:
        batch_op.create_index('ix_reply_conversation_created', ['conversation_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_reply_mailbox_id'), ['mailbox_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reply_message_row_id'), ['message_row_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reply_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('mailbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('smtp_files_sent', sa.Boolean(), server_default=sa.text('false'), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('mailbox', schema=None) as batch_op:
        batch_op.drop_column('smtp_files_sent')

    with op.batch_alter_table('reply', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reply_user_id'))
        batch_op.drop_index(batch_op.f('ix_reply_message_row_id'))
        batch_op.drop_index(batch_op.f('ix_reply_mailbox_id'))
        batch_op.drop_index('ix_reply_conversation_created')

    op.drop_table('reply')
