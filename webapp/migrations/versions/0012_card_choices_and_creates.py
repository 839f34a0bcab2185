"""the Salesforce card: the record an agent picked for an ambiguous address, and creates from the card

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 14:30:00.000000
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('salesforce_choice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('email_normalized', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('sobject', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('sf_id', sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False),
    sa.Column('chosen_by_id', sa.Integer(), nullable=True),
    sa.Column('chosen_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("sobject IN ('Contact', 'Lead')", name=op.f('ck_salesforce_choice_sobject')),
    sa.ForeignKeyConstraint(['chosen_by_id'], ['app_user.id'], name=op.f('fk_salesforce_choice_chosen_by_id_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_salesforce_choice_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_salesforce_choice')),
    sa.UniqueConstraint('workspace_id', 'email_normalized', name=op.f('uq_salesforce_choice_workspace_id_email_normalized')),
    )
    with op.batch_alter_table('salesforce_choice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_salesforce_choice_chosen_by_id'), ['chosen_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_salesforce_choice_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('salesforce_create',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('email_normalized', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('sobject', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('sf_id', sqlmodel.sql.sqltypes.AutoString(length=18), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("sobject IN ('Contact', 'Lead')", name=op.f('ck_salesforce_create_sobject')),
    sa.CheckConstraint("state IN ('pending', 'created', 'unclear', 'refused')", name=op.f('ck_salesforce_create_state')),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], name=op.f('fk_salesforce_create_created_by_id_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_salesforce_create_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_salesforce_create')),
    sa.UniqueConstraint('workspace_id', 'key', name=op.f('uq_salesforce_create_workspace_id_key')),
    )
    with op.batch_alter_table('salesforce_create', schema=None) as batch_op:
        batch_op.create_index('ix_salesforce_create_email', ['workspace_id', 'email_normalized'], unique=False)
        batch_op.create_index(batch_op.f('ix_salesforce_create_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_salesforce_create_workspace_id'), ['workspace_id'], unique=False)


def downgrade() -> None:
    op.drop_table('salesforce_create')
    op.drop_table('salesforce_choice')
