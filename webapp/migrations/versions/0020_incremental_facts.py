"""incremental analytics facts: lookup indexes, the contact behind a fact, filter-menu counts;
an index for replies already stored

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 17:00:00.000000
"""

from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('fact_value',
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('dimension', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('value', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('messages', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_fact_value_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'dimension', 'value', name=op.f('pk_fact_value'))
    )
    with op.batch_alter_table('fact_value', schema=None) as batch_op:
        batch_op.create_index('ix_fact_value_ranking', ['workspace_id', 'dimension', 'messages'], unique=False)

    with op.batch_alter_table('message_fact', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sf_contact_id', sqlmodel.sql.sqltypes.AutoString(length=18), nullable=True))
        batch_op.create_index('ix_message_fact_workspace_account_sf_id', ['workspace_id', 'account_sf_id'], unique=False)
        batch_op.create_index('ix_message_fact_workspace_sf_contact', ['workspace_id', 'sf_contact_id'], unique=False)
        batch_op.create_index('ix_message_fact_workspace_domain_counterpart', ['workspace_id', 'domain', 'counterpart'], unique=False)

    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.create_index('ix_message_workspace_in_reply_to', ['workspace_id', 'in_reply_to'], unique=False)

    # Existing facts know no contact and have no menu counts yet: rebuild every workspace's.
    conn = op.get_bind()
    workspaces = conn.execute(sa.text("SELECT DISTINCT workspace_id FROM message_fact")).scalars().all()
    op.execute("DELETE FROM fact_refresh")
    refresh = sa.table('fact_refresh', sa.column('workspace_id', sa.Integer()), sa.column('sobject', sa.String()),
                       sa.column('sf_id', sa.String()), sa.column('version', sa.Integer()),
                       sa.column('requested_at', sqlmodel.sql.sqltypes.UTCDateTime()))
    now = datetime.now(UTC)
    if workspaces:
        op.bulk_insert(refresh, [{"workspace_id": w, "sobject": "*", "sf_id": "*", "version": 1, "requested_at": now}
                                 for w in workspaces])


def downgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_index('ix_message_workspace_in_reply_to')

    with op.batch_alter_table('message_fact', schema=None) as batch_op:
        batch_op.drop_index('ix_message_fact_workspace_domain_counterpart')
        batch_op.drop_index('ix_message_fact_workspace_sf_contact')
        batch_op.drop_index('ix_message_fact_workspace_account_sf_id')
        batch_op.drop_column('sf_contact_id')

    with op.batch_alter_table('fact_value', schema=None) as batch_op:
        batch_op.drop_index('ix_fact_value_ranking')

    op.drop_table('fact_value')
