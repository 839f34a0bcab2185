"""two-way sync: links between inbox records and Salesforce records, the conflict log, settings

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 09:00:18.498650
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sync_conflict',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('local_id', sa.Integer(), nullable=False),
    sa.Column('sf_id', sqlmodel.sql.sqltypes.AutoString(length=18), nullable=True),
    sa.Column('record_name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('field', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('inbox_value', sa.Text(), nullable=True),
    sa.Column('salesforce_value', sa.Text(), nullable=True),
    sa.Column('rule', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('winner', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_sync_conflict_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_conflict'))
    )
    with op.batch_alter_table('sync_conflict', schema=None) as batch_op:
        batch_op.create_index('ix_sync_conflict_recent', ['workspace_id', 'created_at'], unique=False)

    op.create_table('sync_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('local_id', sa.Integer(), nullable=False),
    sa.Column('sf_id', sqlmodel.sql.sqltypes.AutoString(length=18), nullable=True),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('base', sa.JSON(), nullable=True),
    sa.Column('sf_stamp', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('local_seen', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('sent_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('sent', sa.JSON(), nullable=True),
    sa.Column('failed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('unlinked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('deal', 'contact')", name=op.f('ck_sync_link_kind')),
    sa.CheckConstraint("state IN ('new', 'pending', 'linked', 'unlinked', 'deleted')", name=op.f('ck_sync_link_state')),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_sync_link_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_link')),
    sa.UniqueConstraint('workspace_id', 'kind', 'local_id', name='uq_sync_link_local'),
    sa.UniqueConstraint('workspace_id', 'kind', 'sf_id', name='uq_sync_link_sf')
    )
    with op.batch_alter_table('sync_link', schema=None) as batch_op:
        batch_op.create_index('ix_sync_link_state', ['workspace_id', 'state'], unique=False)

    with op.batch_alter_table('sync_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('two_way', sa.Boolean(), server_default=sa.text('(false)'), nullable=False))
        batch_op.add_column(sa.Column('external_id_field', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True))
        batch_op.add_column(sa.Column('push_immediately', sa.Boolean(), server_default=sa.text('(false)'), nullable=False))
        batch_op.add_column(sa.Column('delete_in_salesforce', sa.Boolean(), server_default=sa.text('(false)'), nullable=False))
        batch_op.add_column(sa.Column('field_rules', sa.JSON(), server_default=sa.text("'{}'"), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('sync_settings', schema=None) as batch_op:
        batch_op.drop_column('field_rules')
        batch_op.drop_column('delete_in_salesforce')
        batch_op.drop_column('push_immediately')
        batch_op.drop_column('external_id_field')
        batch_op.drop_column('two_way')

    with op.batch_alter_table('sync_link', schema=None) as batch_op:
        batch_op.drop_index('ix_sync_link_state')

    op.drop_table('sync_link')
    with op.batch_alter_table('sync_conflict', schema=None) as batch_op:
        batch_op.drop_index('ix_sync_conflict_recent')

    op.drop_table('sync_conflict')
