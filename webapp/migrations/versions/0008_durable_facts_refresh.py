"""durable facts refresh requests; sf_contact.last_modified_date

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 13:46:53.492346
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('fact_refresh',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('sobject', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('sf_id', sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('requested_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_fact_refresh_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fact_refresh')),
    sa.UniqueConstraint('workspace_id', 'sobject', 'sf_id', name='uq_fact_refresh_scope')
    )
    with op.batch_alter_table('sf_contact', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_modified_date', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    # Mirrored contacts have no LastModifiedDate yet: the next sync re-reads them in full.
    op.execute("UPDATE sync_cursor SET full_requested = TRUE WHERE sobject = 'Contact'")


def downgrade() -> None:
    with op.batch_alter_table('sf_contact', schema=None) as batch_op:
        batch_op.drop_column('last_modified_date')

    op.drop_table('fact_refresh')
