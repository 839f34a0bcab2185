"""duplicate rules: the matching record of a refused push, and the allowSave setting

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-01 17:00:00.000000
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0015'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sync_record_error', schema=None) as batch_op:
        batch_op.add_column(sa.Column('match_sobject', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.add_column(sa.Column('match_id', sqlmodel.sql.sqltypes.AutoString(length=18), nullable=True))

    with op.batch_alter_table('sync_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('allow_duplicate_save', sa.Boolean(), server_default=sa.text('false'), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('sync_settings', schema=None) as batch_op:
        batch_op.drop_column('allow_duplicate_save')

    with op.batch_alter_table('sync_record_error', schema=None) as batch_op:
        batch_op.drop_column('match_id')
        batch_op.drop_column('match_sobject')
