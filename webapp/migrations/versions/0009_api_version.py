"""the REST API version each connection speaks, negotiated with the org or pinned by the admin

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 14:45:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('salesforce_connection', schema=None) as batch_op:
        batch_op.add_column(sa.Column('api_version', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True))
        batch_op.add_column(sa.Column('api_version_pinned', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('salesforce_connection', schema=None) as batch_op:
        batch_op.drop_column('api_version_pinned')
        batch_op.drop_column('api_version')
