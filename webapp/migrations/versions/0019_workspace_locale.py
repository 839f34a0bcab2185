"""the workspace's locale, in which amounts are shown and typed

Revision ID: 0019
Revises: 0015
Create Date: 2026-12-01 17:00:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0019'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('workspace', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False,
                                      server_default='en_US'))


def downgrade() -> None:
    with op.batch_alter_table('workspace', schema=None) as batch_op:
        batch_op.drop_column('locale')
